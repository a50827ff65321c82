// The matrix product at the shapes an LSTM step runs, per vector width, against the scalar definition.
// Shapes (m, n, k): the recurrent product of W1 (B=64 rows x 4H=2048 gates, k=H=512), the same at char-rnn's
// size (50 x 512, k=128), and an odd shape that exercises every remainder path.
using BenchmarkDotNet.Attributes;
using CharRnn.Engine.Numerics;

namespace CharRnn.Perf;

[MemoryDiagnoser]
public class GemmBench
{
    private float[] _a = [], _b = [], _c = [];

    [Params("64x2048x512", "50x512x128", "67x133x517")]
    public string Shape { get; set; } = "";

    private int M => int.Parse(Shape.Split('x')[0]);
    private int N => int.Parse(Shape.Split('x')[1]);
    private int K => int.Parse(Shape.Split('x')[2]);

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _a = Enumerable.Range(0, M * K).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[M * N];
    }

    [Benchmark(Baseline = true)]
    public void Scalar() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Scalar);

    [Benchmark]
    public void Vector128() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector128);

    [Benchmark]
    public void Vector256() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector256);

    [Benchmark]
    public void Vector512() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector512);

    [Benchmark]
    public void Vector256TransposedA() => Gemm.Multiply(_a, 1, M, _b, N, _c, N, M, N, K, false, SimdWidth.Vector256);
}
