// The element-wise part of one GRU time step (torch.nn.GRU), two passes per row (r and z, then n and h; the
// row stays in L1 between them), with its backward twin. Row layout (PyTorch), gate order r z n:
//   p(3H) = x W_ih^T + b_ih = [xr | xz | xn]          q(3H) = h_prev W_hh^T + b_hh = [hr | hz | hn]
//   forward:  r = sigmoid(xr + hr)   z = sigmoid(xz + hz)   n = tanh(xn + r*hn)
//             h = (1 - z)*n + z*h_prev
// The two halves stay apart because r multiplies hn (bias included) before the sum. The activated r, z, n
// overwrite p in place; backward needs them, plus hn from q and h_prev.
// Remainder policy: a row's last H % width units run the scalar definition (in place: never twice).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public static class GruCell
{
    /// <summary>
    /// gates (B, 3H) input-projection pre-activations in, activated r z n out; recurrent (B, 3H) h_prev W_hh^T + b_hh;
    /// hPrev (B, H); h (B, H) written.
    /// </summary>
    public static void Forward<T>(Span<T> gates, ReadOnlySpan<T> recurrent, ReadOnlySpan<T> hPrev, Span<T> h, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>()) Forward(Kernels.AsSingle(gates), Kernels.AsSingle(recurrent), Kernels.AsSingle(hPrev), Kernels.AsSingle(h), hidden, Simd.Best);
        else ForwardReference(gates, recurrent, hPrev, h, hidden, 0);
    }

    public static void Forward(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> hPrev, Span<float> h, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(gates.Length, recurrent.Length, hPrev.Length, h.Length, hidden);
        int done = width switch
        {
            SimdWidth.Vector512 => ForwardVectorised<Ops512, Vector512<float>>(gates, recurrent, hPrev, h, hidden, rows),
            SimdWidth.Vector256 => ForwardVectorised<Ops256, Vector256<float>>(gates, recurrent, hPrev, h, hidden, rows),
            SimdWidth.Vector128 => ForwardVectorised<Ops128, Vector128<float>>(gates, recurrent, hPrev, h, hidden, rows),
            _ => 0,
        };
        ForwardReference(gates, recurrent, hPrev, h, hidden, done);
    }

    /// <summary>The definition, for units [firstUnit, H) of every row, with exact library functions.</summary>
    public static void ForwardReference<T>(Span<T> gates, ReadOnlySpan<T> recurrent, ReadOnlySpan<T> hPrev, Span<T> h, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = h.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            Span<T> p = gates.Slice(b * 3 * hidden, 3 * hidden);
            ReadOnlySpan<T> q = recurrent.Slice(b * 3 * hidden, 3 * hidden);
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                T r = Sigmoid(p[j] + q[j]);
                T z = Sigmoid(p[hidden + j] + q[hidden + j]);
                T n = T.Tanh(p[2 * hidden + j] + r * q[2 * hidden + j]);
                p[j] = r; p[hidden + j] = z; p[2 * hidden + j] = n;
                h[u] = (T.One - z) * n + z * hPrev[u];
            }
        }
    }

    /// <summary>
    /// gates (B, 3H) activated r z n; recurrent (B, 3H) and hPrev (B, H) as in forward; dh (B, H) total gradient at h.
    /// Written: dProjection (B, 3H) gradient at the input-projection pre-activations [da_r | da_z | da_n] (it may be
    /// gates itself: each unit's r, z, n are read before its gradients are written);
    /// dRecurrent (B, 3H) gradient at recurrent [da_r | da_z | da_n*r] (it may be recurrent itself, likewise);
    /// dhPrev (B, H) only the direct part dh*z
    /// (the caller adds dRecurrent W_hh to it).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> recurrent, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> dh,
        Span<T> dProjection, Span<T> dRecurrent, Span<T> dhPrev, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>())
            Backward(Kernels.AsSingle(gates), Kernels.AsSingle(recurrent), Kernels.AsSingle(hPrev), Kernels.AsSingle(dh),
                Kernels.AsSingle(dProjection), Kernels.AsSingle(dRecurrent), Kernels.AsSingle(dhPrev), hidden, Simd.Best);
        else BackwardReference(gates, recurrent, hPrev, dh, dProjection, dRecurrent, dhPrev, hidden, 0);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> dh,
        Span<float> dProjection, Span<float> dRecurrent, Span<float> dhPrev, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(gates.Length, recurrent.Length, hPrev.Length, dh.Length, hidden);
        if (dProjection.Length < gates.Length) throw new ArgumentException($"dProjection holds {dProjection.Length}, gates {gates.Length}", nameof(dProjection));
        if (dRecurrent.Length < gates.Length) throw new ArgumentException($"dRecurrent holds {dRecurrent.Length}, gates {gates.Length}", nameof(dRecurrent));
        if (dhPrev.Length < dh.Length) throw new ArgumentException($"dhPrev holds {dhPrev.Length}, dh {dh.Length}", nameof(dhPrev));
        int done = width switch
        {
            SimdWidth.Vector512 => BackwardVectorised<Ops512, Vector512<float>>(gates, recurrent, hPrev, dh, dProjection, dRecurrent, dhPrev, hidden, rows),
            SimdWidth.Vector256 => BackwardVectorised<Ops256, Vector256<float>>(gates, recurrent, hPrev, dh, dProjection, dRecurrent, dhPrev, hidden, rows),
            SimdWidth.Vector128 => BackwardVectorised<Ops128, Vector128<float>>(gates, recurrent, hPrev, dh, dProjection, dRecurrent, dhPrev, hidden, rows),
            _ => 0,
        };
        BackwardReference(gates, recurrent, hPrev, dh, dProjection, dRecurrent, dhPrev, hidden, done);
    }

    public static void BackwardReference<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> recurrent, ReadOnlySpan<T> hPrev, ReadOnlySpan<T> dh,
        Span<T> dProjection, Span<T> dRecurrent, Span<T> dhPrev, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = dh.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            ReadOnlySpan<T> a = gates.Slice(b * 3 * hidden, 3 * hidden);
            ReadOnlySpan<T> q = recurrent.Slice(b * 3 * hidden, 3 * hidden);
            Span<T> dp = dProjection.Slice(b * 3 * hidden, 3 * hidden);
            Span<T> dq = dRecurrent.Slice(b * 3 * hidden, 3 * hidden);
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                T r = a[j], z = a[hidden + j], n = a[2 * hidden + j], hn = q[2 * hidden + j], g = dh[u];
                // forward: h = (1-z)*n + z*h_prev  =>  dn = dh*(1-z);  dz = dh*(h_prev - n);  dh_prev = dh*z (direct part)
                T dN = g * (T.One - z), dZ = g * (hPrev[u] - n);
                dhPrev[u] = g * z;
                // forward: n = tanh(xn + r*hn)  =>  da_n = dn*(1-n^2);  dr = da_n*hn;  dhn = da_n*r
                T daN = dN * (T.One - n * n);
                T dR = daN * hn;
                // forward: r = sigmoid(xr + hr), z = sigmoid(xz + hz)  =>  da = dy*y*(1-y), the same for x and h halves
                T daR = dR * r * (T.One - r), daZ = dZ * z * (T.One - z);
                dp[j] = daR; dp[hidden + j] = daZ; dp[2 * hidden + j] = daN;
                dq[j] = daR; dq[hidden + j] = daZ; dq[2 * hidden + j] = daN * r;
            }
        }
    }

    private static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));

    private static int CheckShapes(int gates, int recurrent, int hPrev, int h, int hidden)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden size must be positive");
        int rows = h / hidden;
        if (h != rows * hidden || gates < 3 * h || recurrent < 3 * h || hPrev < h)
            throw new ArgumentException($"GRU cell buffers disagree: gates {gates}, recurrent {recurrent}, h_prev {hPrev}, h {h} for H={hidden}");
        return rows;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // out of line: see LstmCell.ForwardVectorised
    private static int ForwardVectorised<TOps, TVec>(Span<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> hPrev, Span<float> h, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float rp = ref MemoryMarshal.GetReference(gates);
        ref float rq = ref MemoryMarshal.GetReference(recurrent);
        ref float rhp = ref MemoryMarshal.GetReference(hPrev);
        ref float rh = ref MemoryMarshal.GetReference(h);
        for (int b = 0; b < rows; b++)
        {
            ref float p = ref Unsafe.Add(ref rp, (nint)b * 3 * hidden);
            ref float q = ref Unsafe.Add(ref rq, (nint)b * 3 * hidden);
            // Pass 1, r and z (independent elements, so their activation chains overlap); pass 2, n and h.
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint jr = (nuint)j, jz = (nuint)(hidden + j);
                TOps.Store(VectorMath.Sigmoid<TOps, TVec>(TOps.Add(TOps.Load(ref p, jr), TOps.Load(ref q, jr))), ref p, jr);
                TOps.Store(VectorMath.Sigmoid<TOps, TVec>(TOps.Add(TOps.Load(ref p, jz), TOps.Load(ref q, jz))), ref p, jz);
            }
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                nuint jr = (nuint)j, jz = (nuint)(hidden + j), jn = (nuint)(2 * hidden + j);
                TVec r = TOps.Load(ref p, jr), z = TOps.Load(ref p, jz);
                TVec n = VectorMath.Tanh<TOps, TVec>(TOps.MultiplyAdd(r, TOps.Load(ref q, jn), TOps.Load(ref p, jn)));
                TOps.Store(n, ref p, jn);
                // (1-z)*n + z*h_prev written as n + z*(h_prev - n): one FMA, same value up to rounding.
                TOps.Store(TOps.MultiplyAdd(z, TOps.Subtract(TOps.Load(ref rhp, u), n), n), ref rh, u);
            }
        }
        return vectorEnd;
    }

    private static int BackwardVectorised<TOps, TVec>(ReadOnlySpan<float> gates, ReadOnlySpan<float> recurrent, ReadOnlySpan<float> hPrev, ReadOnlySpan<float> dh,
        Span<float> dProjection, Span<float> dRecurrent, Span<float> dhPrev, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float ra = ref MemoryMarshal.GetReference(gates);
        ref float rq = ref MemoryMarshal.GetReference(recurrent);
        ref float rhp = ref MemoryMarshal.GetReference(hPrev);
        ref float rdh = ref MemoryMarshal.GetReference(dh);
        ref float rdp = ref MemoryMarshal.GetReference(dProjection);
        ref float rdq = ref MemoryMarshal.GetReference(dRecurrent);
        ref float rdhp = ref MemoryMarshal.GetReference(dhPrev);
        TVec one = TOps.Broadcast(1f);
        for (int b = 0; b < rows; b++)
        {
            ref float a = ref Unsafe.Add(ref ra, (nint)b * 3 * hidden);
            ref float q = ref Unsafe.Add(ref rq, (nint)b * 3 * hidden);
            ref float dp = ref Unsafe.Add(ref rdp, (nint)b * 3 * hidden);
            ref float dq = ref Unsafe.Add(ref rdq, (nint)b * 3 * hidden);
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                nuint jr = (nuint)j, jz = (nuint)(hidden + j), jn = (nuint)(2 * hidden + j);
                TVec r = TOps.Load(ref a, jr), z = TOps.Load(ref a, jz), n = TOps.Load(ref a, jn);
                TVec g = TOps.Load(ref rdh, u);
                TVec dN = TOps.Multiply(g, TOps.Subtract(one, z));
                TVec dZ = TOps.Multiply(g, TOps.Subtract(TOps.Load(ref rhp, u), n));
                TOps.Store(TOps.Multiply(g, z), ref rdhp, u);
                TVec daN = TOps.Multiply(dN, TOps.Subtract(one, TOps.Multiply(n, n)));
                TVec dR = TOps.Multiply(daN, TOps.Load(ref q, jn));
                TVec daR = TOps.Multiply(TOps.Multiply(dR, r), TOps.Subtract(one, r));
                TVec daZ = TOps.Multiply(TOps.Multiply(dZ, z), TOps.Subtract(one, z));
                TOps.Store(daR, ref dp, jr); TOps.Store(daZ, ref dp, jz); TOps.Store(daN, ref dp, jn);
                TOps.Store(daR, ref dq, jr); TOps.Store(daZ, ref dq, jz); TOps.Store(TOps.Multiply(daN, r), ref dq, jn);
            }
        }
        return vectorEnd;
    }
}
