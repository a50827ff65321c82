// The machine's fp32 fused multiply-add peak, measured rather than looked up: each thread runs twelve
// independent FMA chains on registers (enough to cover the FMA latency of current x86 cores with two FMA
// units) at the widest accelerated vector width, keeping the best of many short windows. Benchmarks report their GFLOP/s as a
// share of this figure measured in the same process, which makes the ratio robust to a noisy machine.
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Benchmarks;

public static class FmaPeak
{
    /// <summary>GFLOP/s of threads cores together (one FMA = 2 FLOP per lane), measured for about `seconds`.</summary>
    public static double Measure(int threads, double seconds = 0.5)
    {
        var rates = new double[threads];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() => rates[t] = OneThread(seconds)) { IsBackground = true }).ToArray();
        foreach (var w in workers) w.Start();
        foreach (var w in workers) w.Join();
        return rates.Sum();
    }

    private static double OneThread(double seconds) =>
        Ops512.IsAccelerated ? Rate<Ops512, Vector512<float>>(seconds)
        : Ops256.IsAccelerated ? Rate<Ops256, Vector256<float>>(seconds)
        : Ops128.IsAccelerated ? Rate<Ops128, Vector128<float>>(seconds)
        : ScalarRate(seconds);

    private static double Rate<TOps, TVec>(double seconds) where TOps : IVectorOps<TVec> where TVec : struct =>
        Timed(seconds, rounds => Run<TOps, TVec>(rounds), TOps.Count);

    private static double ScalarRate(double seconds) => Timed(seconds, RunScalar, 1);

    /// <summary>
    /// GFLOP/s of `run` (12 FMAs of `lanes` lanes per round): the best of 20 ms windows over about `seconds`,
    /// so JIT tiering in the first windows and a neighbour's burst in some later ones do not lower the peak.
    /// </summary>
    private static double Timed(double seconds, Func<int, float> run, int lanes)
    {
        const int Rounds = 1 << 14; // FMA rounds between clock reads
        const double Window = 0.02;
        double best = 0;
        float sink = 0;
        var total = Stopwatch.StartNew();
        do
        {
            long rounds = 0;
            var clock = Stopwatch.StartNew();
            do
            {
                sink += run(Rounds);
                rounds += Rounds;
            } while (clock.Elapsed.TotalSeconds < Window);
            best = Math.Max(best, rounds * 12.0 * lanes * 2 / clock.Elapsed.TotalSeconds / 1e9);
        } while (total.Elapsed.TotalSeconds < seconds);
        GC.KeepAlive(sink);
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Run<TOps, TVec>(int rounds) where TOps : IVectorOps<TVec> where TVec : struct
    {
        TVec a = TOps.Broadcast(0.999f), b = TOps.Broadcast(1e-7f);
        TVec c0 = TOps.Broadcast(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < rounds; i++)
        {
            c0 = TOps.MultiplyAdd(c0, a, b); c1 = TOps.MultiplyAdd(c1, a, b); c2 = TOps.MultiplyAdd(c2, a, b);
            c3 = TOps.MultiplyAdd(c3, a, b); c4 = TOps.MultiplyAdd(c4, a, b); c5 = TOps.MultiplyAdd(c5, a, b);
            c6 = TOps.MultiplyAdd(c6, a, b); c7 = TOps.MultiplyAdd(c7, a, b); c8 = TOps.MultiplyAdd(c8, a, b);
            c9 = TOps.MultiplyAdd(c9, a, b); c10 = TOps.MultiplyAdd(c10, a, b); c11 = TOps.MultiplyAdd(c11, a, b);
        }
        TVec total = TOps.Add(TOps.Add(TOps.Add(c0, c1), TOps.Add(c2, c3)), TOps.Add(TOps.Add(c4, c5), TOps.Add(c6, c7)));
        return TOps.Sum(TOps.Add(total, TOps.Add(TOps.Add(c8, c9), TOps.Add(c10, c11))));
    }

    /// <summary>Without SIMD (DOTNET_EnableHWIntrinsic=0) the kernels run scalar code: multiply and add, 2 FLOP.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float RunScalar(int rounds)
    {
        float a = 0.999f, b = 1e-7f;
        float c0 = 1, c1 = 1, c2 = 1, c3 = 1, c4 = 1, c5 = 1, c6 = 1, c7 = 1, c8 = 1, c9 = 1, c10 = 1, c11 = 1;
        for (int i = 0; i < rounds; i++)
        {
            c0 = c0 * a + b; c1 = c1 * a + b; c2 = c2 * a + b; c3 = c3 * a + b; c4 = c4 * a + b; c5 = c5 * a + b;
            c6 = c6 * a + b; c7 = c7 * a + b; c8 = c8 * a + b; c9 = c9 * a + b; c10 = c10 * a + b; c11 = c11 * a + b;
        }
        return c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;
    }
}
