// The model's products: every weight's, through its panels (W_hh), in place (the others) or, at a Scalar width,
// through the plain transposes, equal the scalar definition on the plain weights, and Pack split into parts (Pack(part, parts),
// run here one part after another, as the trainer's threads run them side by side on disjoint jobs) gives
// exactly what one Pack() gives.
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Sampling;

namespace CharRnn.Engine.Tests.Model;

public class CharModelPackingTests
{
    public static TheoryData<SimdWidth> Widths() { var d = new TheoryData<SimdWidth>(); foreach (var w in Simd.Accelerated) d.Add(w); return d; }

    private static CharModel<float> NewModel(SimdWidth width, CellKind cell = CellKind.Lstm)
    {
        var model = new CharModel<float>(new ModelConfig(cell, 11, 20, 2), width);
        model.InitializeUniform(new Rng(4));
        return model;
    }

    private static float[] Random(int n, int seed)
    {
        var r = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    [Theory, MemberData(nameof(Widths))]
    public void Products_ThroughPanels_MatchTheDefinitionOnThePlainWeights(SimdWidth width)
    {
        foreach (var cell in new[] { CellKind.Lstm, CellKind.Gru, CellKind.Rnn })
        {
            var model = NewModel(width, cell);
            var matrices = model.Layout.Tensors.Where(t => t.Shape.Length == 2 && t.Index != model.Layout.WeightIh(0).Index);
            foreach (var spec in matrices)
            foreach (int rows in new[] { 1, 2, 7 }) // one or two rows stream the panels; seven take register tiles
            {
                int outputs = spec.Shape[0], inputs = spec.Shape[1];
                float[] x = Random(rows * inputs, spec.Index), dy = Random(rows * outputs, spec.Index + 50);
                float[] y = new float[rows * outputs], dx = new float[rows * inputs];
                model.MultiplyByTransposed(x, spec, y, rows, accumulate: false);
                model.MultiplyBy(dy, spec, dx, rows, accumulate: false);
                float[] weight = model.View(spec).ToArray(); // (out, in)
                float[] expectedY = new float[y.Length], expectedDx = new float[dx.Length];
                GemmReference.Multiply<float>(x, inputs, 1, Transpose(weight, outputs, inputs), outputs, expectedY, outputs, rows, outputs, inputs, false);
                GemmReference.Multiply<float>(dy, outputs, 1, weight, inputs, expectedDx, inputs, rows, inputs, outputs, false);
                for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expectedY[i]) <= Tolerances.GemmRelativeToMagnitude * inputs + Tolerances.GemmAbsoluteFloor, $"{cell} {spec.Name} rows={rows} y[{i}]");
                for (int i = 0; i < dx.Length; i++) Assert.True(Math.Abs(dx[i] - expectedDx[i]) <= Tolerances.GemmRelativeToMagnitude * outputs + Tolerances.GemmAbsoluteFloor, $"{cell} {spec.Name} rows={rows} dx[{i}]");
            }
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void Pack_SharedAmongParts_EqualsOnePack(int parts)
    {
        var whole = NewModel(Simd.Best);
        var shared = NewModel(Simd.Best);
        // Move both away from their packed state, then repack: one with Pack(), one part by part in reverse order.
        var random = new Random(8);
        for (int i = 0; i < whole.Parameters.Length; i++) whole.Parameters[i] = shared.Parameters[i] = (float)random.NextDouble();
        whole.Pack();
        for (int part = parts - 1; part >= 0; part--) shared.Pack(part, parts);
        Assert.Equal(whole.Packed, shared.Packed);
        foreach (var spec in whole.Layout.Tensors.Where(t => t.Shape.Length == 2 && t.Index != whole.Layout.WeightIh(0).Index))
        {
            int outputs = spec.Shape[0], inputs = spec.Shape[1];
            float[] x = Random(3 * inputs, 1), dy = Random(3 * outputs, 2);
            float[] a = new float[3 * outputs], b = new float[3 * outputs], da = new float[3 * inputs], db = new float[3 * inputs];
            whole.MultiplyByTransposed(x, spec, a, 3, false);
            shared.MultiplyByTransposed(x, spec, b, 3, false);
            whole.MultiplyBy(dy, spec, da, 3, false);
            shared.MultiplyBy(dy, spec, db, 3, false);
            Assert.Equal(a, b);
            Assert.Equal(da, db);
        }
    }

    private static float[] Transpose(float[] w, int rows, int cols)
    {
        var t = new float[w.Length];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = w[r * cols + c];
        return t;
    }
}
