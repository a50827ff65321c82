// The matrix product at the shapes the workloads run, per vector width, against the scalar definition:
//   32x2048x512  W1's per-step recurrent product on one of two threads (B=32 rows, 4H=2048 gates, k=H=512)
//   384x2048x512 a slice of W1's batched products (projection of T*B rows; the model packs those weights per call)
//   25x512x128   W2's per-step recurrent product on one of two threads
//   1x2048x512   W3's batch-1 step (a matrix-vector product, bound by reading B)
//   67x133x517   an odd shape through every remainder path
// "Packed" multiplies by weights packed once (PackedMatrix), as the model does for W_hh every optimizer step;
// the others pack B per call (one or two rows stream B's rows instead). GFLOP/s = 2*m*n*k / mean.
using BenchmarkDotNet.Attributes;
using CharRnn.Engine.Numerics;

namespace CharRnn.Perf;

[MemoryDiagnoser]
public class GemmBench
{
    private float[] _a = [], _b = [], _c = [], _w = []; // _w (N, K): B^T stored as a weight (out, in)
    private PackedMatrix? _packed, _packedBFloat16;

    [Params("32x2048x512", "384x2048x512", "25x512x128", "1x2048x512", "67x133x517")]
    public string Shape { get; set; } = "";

    private int M, N, K; // parsed from Shape once, so the measured calls allocate nothing of their own

    [GlobalSetup]
    public void Setup()
    {
        int[] sizes = Shape.Split('x').Select(int.Parse).ToArray();
        (M, N, K) = (sizes[0], sizes[1], sizes[2]);
        var random = new Random(1);
        _a = Enumerable.Range(0, M * K).Select(_ => (float)random.NextDouble()).ToArray();
        _b = Enumerable.Range(0, K * N).Select(_ => (float)random.NextDouble()).ToArray();
        _c = new float[M * N];
        _w = new float[N * K];
        for (int j = 0; j < N; j++) for (int p = 0; p < K; p++) _w[j * K + p] = _b[p * N + j];
        _packed = new PackedMatrix(K, N, Simd.Best);
        _packed.Pack(_b, N);
        _packedBFloat16 = new PackedMatrix(K, N, Simd.Best, bfloat16: true);
        _packedBFloat16.Pack(_b, N);
    }

    [Benchmark(Baseline = true)]
    public void Scalar() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Scalar);

    [Benchmark]
    public void Vector128() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector128);

    [Benchmark]
    public void Vector256() => Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector256);

    // Without AVX-512 the runtime emulates Vector512 in software; measuring that would only mislead, so on such
    // a machine this measures nothing (a mean of ~0 ns).
    [Benchmark]
    public void Vector512()
    {
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) Gemm.Multiply(_a, K, 1, _b, N, _c, N, M, N, K, false, SimdWidth.Vector512);
    }

    [Benchmark]
    public void TransposedA() => Gemm.Multiply(_a, 1, M, _b, N, _c, N, M, N, K, false, Simd.Best);

    /// <summary>B given as W^T, packed per call: how the model multiplies W_ih above layer 0 and the head.</summary>
    [Benchmark]
    public void TransposedB() => Gemm.MultiplyByTransposed(_a, K, _w, K, _c, N, M, N, K, false, Simd.Best);

    [Benchmark]
    public void Packed() => Gemm.Multiply(_a, K, 1, _packed!, _c, N, M, false);

    [Benchmark]
    public void PackedBFloat16() => Gemm.Multiply(_a, K, 1, _packedBFloat16!, _c, N, M, false);
}
