// The fused element-wise cell kernels, per vector width, against their scalar definitions, at the rows one
// thread handles per time step: W1 (B=32 of 64 streams, H=512) and W2 (B=25 of 50, H=128).
// LSTM forward (gates, c, tanh c, h) and backward (dgates, dc); GRU forward. Each call restores the
// pre-activations first (the forward overwrites them), which the Reset benchmark measures alone.
using BenchmarkDotNet.Attributes;
using CharRnn.Engine.Layers;
using CharRnn.Engine.Numerics;

namespace CharRnn.Perf;

[MemoryDiagnoser]
public class CellBench
{
    private float[] _preactivations = [], _gates = [], _recurrent = [], _cPrev = [], _c = [], _tanhC = [], _h = [], _dh = [], _dc = [], _dGates = [];
    private float[] _gruGates = [], _gruPreactivations = [], _dProjection = [], _dRecurrent = [];

    [Params("W1 32x512", "W2 25x128")]
    public string Rows { get; set; } = "";

    [ParamsSource(nameof(Widths))]
    public SimdWidth Width { get; set; }

    /// <summary>The scalar definitions, Vector256, and Vector512 where the CPU has it (emulated, it would only mislead).</summary>
    public static IEnumerable<SimdWidth> Widths() =>
        System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated
            ? [SimdWidth.Scalar, SimdWidth.Vector256, SimdWidth.Vector512]
            : [SimdWidth.Scalar, SimdWidth.Vector256];

    private int B => Rows.StartsWith("W1") ? 32 : 25;
    private int H => Rows.StartsWith("W1") ? 512 : 128;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        float[] Fill(int n, double scale) => Enumerable.Range(0, n).Select(_ => (float)((random.NextDouble() * 2 - 1) * scale)).ToArray();
        _preactivations = Fill(B * 4 * H, 3);
        _gates = (float[])_preactivations.Clone();
        _gruPreactivations = Fill(B * 3 * H, 3);
        _gruGates = (float[])_gruPreactivations.Clone();
        _recurrent = Fill(B * 3 * H, 3);
        _cPrev = Fill(B * H, 1); _c = new float[B * H]; _tanhC = new float[B * H]; _h = new float[B * H];
        _dh = Fill(B * H, 1); _dc = Fill(B * H, 1); _dGates = new float[B * 4 * H];
        _dProjection = new float[B * 3 * H]; _dRecurrent = new float[B * 3 * H];
        LstmCell.Forward(_gates, _cPrev, _c, _tanhC, _h, H, SimdWidth.Vector256);
    }

    [Benchmark]
    public void Reset() => _preactivations.AsSpan().CopyTo(_gates);

    [Benchmark]
    public void LstmForward()
    {
        _preactivations.AsSpan().CopyTo(_gates);
        LstmCell.Forward(_gates, _cPrev, _c, _tanhC, _h, H, Width);
    }

    [Benchmark]
    public void LstmBackward() => LstmCell.Backward(_gates, _cPrev, _tanhC, _dh, _dc, _dGates, H, Width);

    [Benchmark]
    public void GruForward()
    {
        _gruPreactivations.AsSpan().CopyTo(_gruGates);
        GruCell.Forward(_gruGates, _recurrent, _cPrev, _h, H, Width);
    }
}
