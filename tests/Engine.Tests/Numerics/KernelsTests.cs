using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Tests.Numerics;

public class KernelsTests
{
    /// <summary>A float running sum of rows entries in [-1, 1] against the same sum in double: each addition rounds
    /// by at most half an ulp of a partial sum no larger than the row count, so ~6e-8 * rows per row at worst;
    /// 1e-5 per row is loose for that and still fails a missed or doubled row (an error of up to 1).</summary>
    private const double ColumnSumPerRow = 1e-5;

    // A bias written into or added onto every row: element-wise float adds, exact, so compared bit for bit, for
    // every row width 0..256 and an odd large one, with two guards after the rows.
    [Fact]
    public void AddBiasToRows_EveryWidth_WritesOrAddsTheBiasToEachRow()
    {
        var random = new Random(11);
        foreach (int n in Enumerable.Range(0, 257).Append(1031))
            foreach (bool accumulate in new[] { false, true })
            {
                const int rows = 3;
                float[] bias = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                float[] data = Enumerable.Range(0, rows * n + 2).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
                float[] expected = (float[])data.Clone();
                for (int r = 0; r < rows; r++)
                    for (int j = 0; j < n; j++) expected[r * n + j] = accumulate ? expected[r * n + j] + bias[j] : bias[j];
                Kernels.AddBiasToRows<float>(bias, data.AsSpan(0, rows * n), accumulate);
                Assert.Equal(expected, data);
            }
    }

    // The bias gradients' column sums: a folded b_hh gets its sums from the same pass as b_ih, and must be
    // exactly what a pass of its own would give (the trainer's bits may not depend on which path summed them).
    [Theory]
    [InlineData(1, 1, 0, 1)]
    [InlineData(7, 33, 0, 33)]
    [InlineData(7, 33, 5, 17)]
    [InlineData(50, 512, 256, 256)]
    [InlineData(3, 1031, 1000, 31)]
    public void AddColumnSums_IntoTwoDestinations_EqualsTwoSeparatePasses(int rows, int width, int first, int count)
    {
        var random = new Random(rows * 1000 + width);
        float[] data = Enumerable.Range(0, rows * width).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        float[] start = Enumerable.Range(0, count).Select(_ => (float)random.NextDouble()).ToArray();
        float[] expected = (float[])start.Clone();
        Kernels.AddColumnSums<float>(data, width, first, expected);

        float[] sums = (float[])start.Clone(), alsoSums = (float[])start.Clone();
        Kernels.AddColumnSums<float>(data, width, first, sums, alsoSums);

        Assert.Equal(expected, sums);
        Assert.Equal(expected, alsoSums);
        for (int j = 0; j < count; j++)
        {
            double sum = start[j];
            for (int r = 0; r < rows; r++) sum += data[r * width + first + j];
            Assert.True(Math.Abs(sum - expected[j]) <= ColumnSumPerRow * rows, $"column {first + j}: {expected[j]} against {sum}");
        }
    }

    [Fact]
    public void AddColumnSums_SecondDestinationOfAnotherLength_Throws()
    {
        float[] data = new float[4 * 8];
        var error = Assert.Throws<ArgumentException>(() => Kernels.AddColumnSums<float>(data, 8, 0, new float[8], new float[7]));
        Assert.Equal("alsoSums", error.ParamName);
    }

    [Fact]
    public void AddColumnSums_ColumnsOutsideTheRow_Throw()
    {
        float[] data = new float[4 * 8];
        Assert.Throws<ArgumentOutOfRangeException>(() => Kernels.AddColumnSums<float>(data, 8, 5, new float[4]));
    }
}
