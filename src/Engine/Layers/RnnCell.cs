// The element-wise part of one tanh-RNN time step (torch.nn.RNN, nonlinearity='tanh') with its backward twin.
// Row layout: a(H), the pre-activation x W_ih^T + b_ih + h_prev W_hh^T + b_hh, already summed by the layer.
//   forward:  h = tanh(a)
// The activation overwrites the pre-activation in place, as every cell leaves its activated gates in the
// projection; backward needs only h. Deliberately not here: the products (the layer does those as GEMMs).
// Remainder policy: a row's last H % width units run the scalar definition (in place: never twice).
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public static class RnnCell
{
    /// <summary>a (B, H) pre-activations in, tanh(a) out; h (B, H) written with the same values.</summary>
    public static void Forward<T>(Span<T> a, Span<T> h, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>()) Forward(Kernels.AsSingle(a), Kernels.AsSingle(h), hidden, Simd.Best);
        else ForwardReference(a, h, hidden, 0);
    }

    public static void Forward(Span<float> a, Span<float> h, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(a.Length, h.Length, hidden);
        int done = width switch
        {
            SimdWidth.Vector512 => ForwardVectorised<Ops512, Vector512<float>>(a, h, hidden, rows),
            SimdWidth.Vector256 => ForwardVectorised<Ops256, Vector256<float>>(a, h, hidden, rows),
            SimdWidth.Vector128 => ForwardVectorised<Ops128, Vector128<float>>(a, h, hidden, rows),
            _ => 0,
        };
        ForwardReference(a, h, hidden, done);
    }

    /// <summary>The definition, for units [firstUnit, H) of every row, with the exact library tanh.</summary>
    public static void ForwardReference<T>(Span<T> a, Span<T> h, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = h.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                T y = T.Tanh(a[u]);
                a[u] = y;
                h[u] = y;
            }
        }
    }

    /// <summary>
    /// h (B, H) the step's output cached by forward; dh (B, H) total gradient at h; dA (B, H) written with
    /// the gradient at the pre-activation.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> dA, int hidden)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Kernels.IsSingle<T>()) Backward(Kernels.AsSingle(h), Kernels.AsSingle(dh), Kernels.AsSingle(dA), hidden, Simd.Best);
        else BackwardReference(h, dh, dA, hidden, 0);
    }

    public static void Backward(ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dA, int hidden, SimdWidth width)
    {
        int rows = CheckShapes(h.Length, dh.Length, hidden);
        if (dA.Length < dh.Length) throw new ArgumentException($"dA holds {dA.Length}, dh {dh.Length}", nameof(dA));
        int done = width switch
        {
            SimdWidth.Vector512 => BackwardVectorised<Ops512, Vector512<float>>(h, dh, dA, hidden, rows),
            SimdWidth.Vector256 => BackwardVectorised<Ops256, Vector256<float>>(h, dh, dA, hidden, rows),
            SimdWidth.Vector128 => BackwardVectorised<Ops128, Vector128<float>>(h, dh, dA, hidden, rows),
            _ => 0,
        };
        BackwardReference(h, dh, dA, hidden, done);
    }

    public static void BackwardReference<T>(ReadOnlySpan<T> h, ReadOnlySpan<T> dh, Span<T> dA, int hidden, int firstUnit)
        where T : IFloatingPointIeee754<T>
    {
        int rows = dh.Length / Math.Max(hidden, 1);
        for (int b = 0; b < rows; b++)
        {
            for (int j = firstUnit; j < hidden; j++)
            {
                int u = b * hidden + j;
                // forward: h = tanh(a)  =>  da = dh*(1 - h^2)
                dA[u] = dh[u] * (T.One - h[u] * h[u]);
            }
        }
    }

    // h (or dh) decides the row count and must hold whole rows of H; the other buffer at least as many units.
    private static int CheckShapes(int other, int h, int hidden)
    {
        if (hidden < 1) throw new ArgumentOutOfRangeException(nameof(hidden), hidden, "hidden size must be positive");
        int rows = h / hidden;
        if (h != rows * hidden || other < h)
            throw new ArgumentException($"RNN cell buffers disagree: {other} and {h} values for H={hidden}; expected whole (B, H) rows in both");
        return rows;
    }

    [MethodImpl(MethodImplOptions.NoInlining)] // out of line: see LstmCell.ForwardVectorised
    private static int ForwardVectorised<TOps, TVec>(Span<float> a, Span<float> h, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rh = ref MemoryMarshal.GetReference(h);
        for (int b = 0; b < rows; b++)
        {
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                TVec y = VectorMath.Tanh<TOps, TVec>(TOps.Load(ref ra, u));
                TOps.Store(y, ref ra, u);
                TOps.Store(y, ref rh, u);
            }
        }
        return vectorEnd;
    }

    private static int BackwardVectorised<TOps, TVec>(ReadOnlySpan<float> h, ReadOnlySpan<float> dh, Span<float> dA, int hidden, int rows)
        where TOps : IVectorOps<TVec> where TVec : struct
    {
        int w = TOps.Count, vectorEnd = hidden - hidden % w;
        ref float rh = ref MemoryMarshal.GetReference(h);
        ref float rdh = ref MemoryMarshal.GetReference(dh);
        ref float rda = ref MemoryMarshal.GetReference(dA);
        TVec one = TOps.Broadcast(1f);
        for (int b = 0; b < rows; b++)
        {
            for (int j = 0; j < vectorEnd; j += w)
            {
                nuint u = (nuint)(b * hidden + j);
                TVec y = TOps.Load(ref rh, u);
                TOps.Store(TOps.Multiply(TOps.Load(ref rdh, u), TOps.Subtract(one, TOps.Multiply(y, y))), ref rda, u);
            }
        }
        return vectorEnd;
    }
}
