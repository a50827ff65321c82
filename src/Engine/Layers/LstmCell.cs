// The element-wise part of one LSTM time step, two passes per row (the activations in place, then the state;
// the row stays in L1 between them), with its backward twin. Row layout (PyTorch): a(4H) = [i | f | g | o].
//   forward:  i = sigmoid(a_i)  f = sigmoid(a_f)  g = tanh(a_g)  o = sigmoid(a_o)
//             c = f*c_prev + i*g            h = o*tanh(c)
// The activated gates overwrite the pre-activations in place: backward needs only i, f, g, o.
// Remainder policy: a row's last H % width units run the scalar definition (in place: never twice).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public static class LstmCell
{
    /// <summary>
    /// gates (B, 4H) pre-activations in, activations out; cPrev (B, H); c, tanhC, h (B, H) written.
    /// </summary>
    public static void Forward<T>(Span<T> gates, ReadOnlySpan<T> cPrev, Span<T> c, Span<T> tanhC, Span<T> h, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>()) Forward(Kernels.AsSingle(gates), Kernels.AsSingle(cPrev), Kernels.AsSingle(c), Kernels.AsSingle(tanhC), Kernels.AsSingle(h), hidden, Simd.Best);
        else ForwardReference(gates, cPrev, c, tanhC, h, hidden, 0);
    }

    public static void Forward(Span<float> gates, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> tanhC, Span<float> h, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(gates.Length, cPrev.Length, c.Length, tanhC.Length, h.Length, hidden);
        int done = width switch
        {
            SimdWidth.Vector512 => ForwardVectorised<Ops512, Vector512<float>>(gates, cPrev, c, tanhC, h, hidden, rows),
            SimdWidth.Vector256 => ForwardVectorised<Ops256, Vector256<float>>(gates, cPrev, c, tanhC, h, hidden, rows),
            SimdWidth.Vector128 => ForwardVectorised<Ops128, Vector128<float>>(gates, cPrev, c, tanhC, h, hidden, rows),
            _ => 0,
        };
        ForwardReference(gates, cPrev, c, tanhC, h, hidden, done);
    }

    /// <summary>The definition, for units [firstUnit, H) of every row, with exact library functions.</summary>
    public static void ForwardReference<T>(Span<T> gates, ReadOnlySpan<T> cPrev, Span<T> c, Span<T> tanhC, Span<T> h, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = h.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            Span<T> a = gates.Slice(b * 4 * hidden, 4 * hidden);
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                T i = Sigmoid(a[j]), f = Sigmoid(a[hidden + j]), g = T.Tanh(a[2 * hidden + j]), o = Sigmoid(a[3 * hidden + j]);
                a[j] = i; a[hidden + j] = f; a[2 * hidden + j] = g; a[3 * hidden + j] = o;
                c[u] = f * cPrev[u] + i * g;
                tanhC[u] = T.Tanh(c[u]);
                h[u] = o * tanhC[u];
            }
        }
    }

    /// <summary>
    /// tanhC (B, H) = tanh(c) exactly as Forward computed it (same width, same remainder policy), so backward can
    /// recompute it from the cached c instead of caching a second (T, B, H) buffer.
    /// </summary>
    public static void Tanh<T>(ReadOnlySpan<T> c, Span<T> tanhC, int hidden) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Kernels.IsSingle<T>())
        {
            for (int u = 0; u < c.Length; u++) tanhC[u] = T.Tanh(c[u]);
            return;
        }
        ReadOnlySpan<float> cs = Kernels.AsSingle(c);
        Span<float> ts = Kernels.AsSingle(tanhC);
        // Forward's remainder policy: each row's first H - H % width units at the vector width, the rest scalar
        // (at Scalar width Activations.Apply runs the scalar definition on all of them).
        int vectorEnd = hidden - hidden % Simd.FloatsPerVector(Simd.Best);
        for (int row = 0; row < cs.Length; row += hidden)
        {
            Activations.Apply(Activation.Tanh, cs.Slice(row, vectorEnd), ts.Slice(row, vectorEnd));
            for (int j = vectorEnd; j < hidden; j++) ts[row + j] = VectorMath.TanhScalar(cs[row + j]);
        }
    }

    /// <summary>
    /// gates (B, 4H) activations; cPrev, tanhC (B, H) from forward (tanhC recomputed by Tanh); dh (B, H) total gradient at h;
    /// dc (B, H) in: gradient reaching c from step t+1, out: gradient at c_prev; dGates (B, 4H) written (it may be
    /// gates itself: each unit's four gates are read before its gradients are written).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> dh, Span<T> dc, Span<T> dGates, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>()) Backward(Kernels.AsSingle(gates), Kernels.AsSingle(cPrev), Kernels.AsSingle(tanhC), Kernels.AsSingle(dh), Kernels.AsSingle(dc), Kernels.AsSingle(dGates), hidden, Simd.Best);
        else BackwardReference(gates, cPrev, tanhC, dh, dc, dGates, hidden, 0);
    }

    public static void Backward(ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> tanhC, ReadOnlySpan<float> dh, Span<float> dc, Span<float> dGates, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(gates.Length, cPrev.Length, dc.Length, tanhC.Length, dh.Length, hidden);
        if (dGates.Length < gates.Length) throw new ArgumentException($"dGates holds {dGates.Length}, gates {gates.Length}", nameof(dGates));
        int done = width switch
        {
            SimdWidth.Vector512 => BackwardVectorised<Ops512, Vector512<float>>(gates, cPrev, tanhC, dh, dc, dGates, hidden, rows),
            SimdWidth.Vector256 => BackwardVectorised<Ops256, Vector256<float>>(gates, cPrev, tanhC, dh, dc, dGates, hidden, rows),
            SimdWidth.Vector128 => BackwardVectorised<Ops128, Vector128<float>>(gates, cPrev, tanhC, dh, dc, dGates, hidden, rows),
            _ => 0,
        };
        BackwardReference(gates, cPrev, tanhC, dh, dc, dGates, hidden, done);
    }

    public static void BackwardReference<T>(ReadOnlySpan<T> gates, ReadOnlySpan<T> cPrev, ReadOnlySpan<T> tanhC, ReadOnlySpan<T> dh, Span<T> dc, Span<T> dGates, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = dh.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            ReadOnlySpan<T> a = gates.Slice(b * 4 * hidden, 4 * hidden);
            Span<T> da = dGates.Slice(b * 4 * hidden, 4 * hidden);
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                T i = a[j], f = a[hidden + j], g = a[2 * hidden + j], o = a[3 * hidden + j];
                // forward: h = o*tanh(c)  =>  do = dh*tanh(c);  dc += dh*o*(1 - tanh(c)^2)
                T dO = dh[u] * tanhC[u];
                T dcTotal = dc[u] + dh[u] * o * (T.One - tanhC[u] * tanhC[u]);
                // forward: c = f*c_prev + i*g  =>  di = dc*g;  df = dc*c_prev;  dg = dc*i;  dc_prev = dc*f
                T dI = dcTotal * g, dF = dcTotal * cPrev[u], dG = dcTotal * i;
                dc[u] = dcTotal * f;
                // forward: i,f,o = sigmoid(a), g = tanh(a)  =>  da = dy*y*(1-y) for sigmoid, dy*(1-y^2) for tanh
                da[j] = dI * i * (T.One - i);
                da[hidden + j] = dF * f * (T.One - f);
                da[2 * hidden + j] = dG * (T.One - g * g);
                da[3 * hidden + j] = dO * o * (T.One - o);
            }
        }
    }

    private static T Sigmoid<T>(T x) where T : IFloatingPointIeee754<T> => T.One / (T.One + T.Exp(-x));

    private static int CheckShapes(int gates, int cPrev, int c, int tanhC, int h, int hidden)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden size must be positive");
        int rows = h / hidden;
        if (h != rows * hidden || gates < 4 * h || cPrev < h || c < h || tanhC < h)
            throw new ArgumentException($"LSTM cell buffers disagree: gates {gates}, c_prev {cPrev}, c {c}, tanh(c) {tanhC}, h {h} for H={hidden}");
        return rows;
    }

    // Kept out of line: inlined into the time loop it exhausted the caller's inlining budget, and the
    // activations (exp-based then) were called per vector instead of fused into the pass. Out of line, every
    // activation inlines (no call in its Tier1 code, DOTNET_JitDisasm, with the rational tanh too).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int ForwardVectorised<TOps, TVec>(Span<float> gates, ReadOnlySpan<float> cPrev, Span<float> c, Span<float> tanhC, Span<float> h, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float ra = ref MemoryMarshal.GetReference(gates);
        ref float rcp = ref MemoryMarshal.GetReference(cPrev);
        ref float rc = ref MemoryMarshal.GetReference(c);
        ref float rt = ref MemoryMarshal.GetReference(tanhC);
        ref float rh = ref MemoryMarshal.GetReference(h);
        for (int b = 0; b < rows; b++)
        {
            ref float a = ref Unsafe.Add(ref ra, (nint)b * 4 * hidden);
            // Pass 1, the gates in place: independent elements, so the activation chains overlap.
            VectorMath.SigmoidInPlace<TOps, TVec>(ref a, vectorEnd);
            VectorMath.SigmoidInPlace<TOps, TVec>(ref Unsafe.Add(ref a, hidden), vectorEnd);
            VectorMath.TanhInPlace<TOps, TVec>(ref Unsafe.Add(ref a, 2 * hidden), vectorEnd);
            VectorMath.SigmoidInPlace<TOps, TVec>(ref Unsafe.Add(ref a, 3 * hidden), vectorEnd);
            // Pass 2, the state: c = f*c_prev + i*g, h = o*tanh(c).
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                TVec i = TOps.Load(ref a, (nuint)j), f = TOps.Load(ref a, (nuint)(hidden + j));
                TVec g = TOps.Load(ref a, (nuint)(2 * hidden + j)), o = TOps.Load(ref a, (nuint)(3 * hidden + j));
                TVec cNew = TOps.MultiplyAdd(f, TOps.Load(ref rcp, u), TOps.Multiply(i, g));
                TVec t = VectorMath.Tanh<TOps, TVec>(cNew);
                TOps.Store(cNew, ref rc, u);
                TOps.Store(t, ref rt, u);
                TOps.Store(TOps.Multiply(o, t), ref rh, u);
            }
        }
        return vectorEnd;
    }

    private static int BackwardVectorised<TOps, TVec>(ReadOnlySpan<float> gates, ReadOnlySpan<float> cPrev, ReadOnlySpan<float> tanhC, ReadOnlySpan<float> dh, Span<float> dc, Span<float> dGates, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float ra = ref MemoryMarshal.GetReference(gates);
        ref float rcp = ref MemoryMarshal.GetReference(cPrev);
        ref float rt = ref MemoryMarshal.GetReference(tanhC);
        ref float rdh = ref MemoryMarshal.GetReference(dh);
        ref float rdc = ref MemoryMarshal.GetReference(dc);
        ref float rda = ref MemoryMarshal.GetReference(dGates);
        TVec one = TOps.Broadcast(1f);
        for (int b = 0; b < rows; b++)
        {
            ref float a = ref Unsafe.Add(ref ra, (nint)b * 4 * hidden);
            ref float da = ref Unsafe.Add(ref rda, (nint)b * 4 * hidden);
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                TVec i = TOps.Load(ref a, (nuint)j), f = TOps.Load(ref a, (nuint)(hidden + j));
                TVec g = TOps.Load(ref a, (nuint)(2 * hidden + j)), o = TOps.Load(ref a, (nuint)(3 * hidden + j));
                TVec t = TOps.Load(ref rt, u), vdh = TOps.Load(ref rdh, u);
                TVec dO = TOps.Multiply(vdh, t);
                TVec dcTotal = TOps.MultiplyAdd(TOps.Multiply(vdh, o), TOps.Subtract(one, TOps.Multiply(t, t)), TOps.Load(ref rdc, u));
                TOps.Store(TOps.Multiply(dcTotal, f), ref rdc, u);
                TVec dI = TOps.Multiply(dcTotal, g), dF = TOps.Multiply(dcTotal, TOps.Load(ref rcp, u)), dG = TOps.Multiply(dcTotal, i);
                TOps.Store(TOps.Multiply(TOps.Multiply(dI, i), TOps.Subtract(one, i)), ref da, (nuint)j);
                TOps.Store(TOps.Multiply(TOps.Multiply(dF, f), TOps.Subtract(one, f)), ref da, (nuint)(hidden + j));
                TOps.Store(TOps.Multiply(dG, TOps.Subtract(one, TOps.Multiply(g, g))), ref da, (nuint)(2 * hidden + j));
                TOps.Store(TOps.Multiply(TOps.Multiply(dO, o), TOps.Subtract(one, o)), ref da, (nuint)(3 * hidden + j));
            }
        }
        return vectorEnd;
    }
}
