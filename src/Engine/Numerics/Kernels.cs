// The one place where the layers' generic element type meets the kernels: float runs the SIMD paths at the
// best width, any other type (double, for the gradient checks) runs the scalar definitions. The layers are
// written once over T, so the code the finite-difference tests check is the code that trains.
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace CharRnn.Engine.Numerics;

internal static class Kernels
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsSingle<T>() => typeof(T) == typeof(float);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Span<float> AsSingle<T>(Span<T> span) where T : unmanaged => MemoryMarshal.Cast<T, float>(span);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ReadOnlySpan<float> AsSingle<T>(ReadOnlySpan<T> span) where T : unmanaged => MemoryMarshal.Cast<T, float>(span);

    /// <summary>C = [C +] A * B with A read through strides; see <see cref="GemmReference.Multiply{T}"/>.</summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, int aRowStride, int aColStride, ReadOnlySpan<T> b, int ldb,
        Span<T> c, int ldc, int m, int n, int k, bool accumulate) where T : unmanaged, INumberBase<T>
    {
        if (IsSingle<T>()) Gemm.Multiply(AsSingle(a), aRowStride, aColStride, AsSingle(b), ldb, AsSingle(c), ldc, m, n, k, accumulate, Simd.Best);
        else GemmReference.Multiply(a, aRowStride, aColStride, b, ldb, c, ldc, m, n, k, accumulate);
    }

    /// <summary>
    /// The weight and bias gradients of y = x W^T + b from one read of dy: dW (rows [first, first + count) of W)
    /// [+]= (dy's columns [first, first + count))^T x, and dBias [+]= those columns' sums over dy's rows, added row
    /// by row in order, exactly as <see cref="AddColumnSums{T}"/> adds them. dy (rows, width), x (rows, inputs),
    /// dW (count, inputs).
    /// </summary>
    public static void AccumulateWeightAndBiasGradients<T>(ReadOnlySpan<T> dy, int width, int first, int count, ReadOnlySpan<T> x, int inputs,
        Span<T> dWeight, Span<T> dBias, int rows) where T : unmanaged, INumberBase<T>
    {
        ReadOnlySpan<T> columns = dy[first..];
        if (IsSingle<T>())
        {
            // the float product adds the sums where it reads dy's columns (Gemm.Multiply with rowSumsOfA: while packing them, or beside reading them in place)
            Gemm.Multiply(AsSingle(columns), 1, width, AsSingle(x), inputs, AsSingle(dWeight), inputs, count, inputs, rows, accumulate: true, Simd.Best, AsSingle(dBias));
            return;
        }
        GemmReference.Multiply(columns, 1, width, x, inputs, dWeight, inputs, count, inputs, rows, accumulate: true);
        AddColumnSums(dy[..(rows * width)], width, first, dBias);
    }

    /// <summary>C(m, n) = [C +] A(m, k) * B(k, n).</summary>
    public static void MatMul<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool accumulate)
        where T : unmanaged, INumberBase<T> => Multiply(a, k, 1, b, n, c, n, m, n, k, accumulate);

    /// <summary>
    /// sums += column sums of columns [first, first + sums.Length) of rows(r, width), row by row in order; and the
    /// same into alsoSums when it is not empty (two gradients known to be equal, from one read of the rows).
    /// </summary>
    public static void AddColumnSums<T>(ReadOnlySpan<T> rows, int width, int first, Span<T> sums, Span<T> alsoSums = default) where T : unmanaged, INumberBase<T>
    {
        int n = sums.Length;
        if (first < 0 || first + n > width) throw new ArgumentOutOfRangeException(nameof(first), $"columns [{first}, {first + n}) are outside rows of {width}");
        if (!alsoSums.IsEmpty && alsoSums.Length != n) throw new ArgumentException($"alsoSums holds {alsoSums.Length}, sums {n}", nameof(alsoSums));
        if (n == 0 || width == 0) return;
        for (int r = 0; r + width <= rows.Length; r += width)
        {
            ReadOnlySpan<T> row = rows.Slice(r + first, n);
            System.Numerics.Tensors.TensorPrimitives.Add(sums, row, sums);
            if (!alsoSums.IsEmpty) System.Numerics.Tensors.TensorPrimitives.Add(alsoSums, row, alsoSums);
        }
    }

    /// <summary>Each row of rows(r, n) = bias(n) [+ row]: bias initialises or joins a projection.</summary>
    public static void AddBiasToRows<T>(ReadOnlySpan<T> bias, Span<T> rows, bool accumulate) where T : unmanaged, INumberBase<T>
    {
        int n = bias.Length;
        if (n == 0) return;
        for (int r = 0; r + n <= rows.Length; r += n)
        {
            Span<T> row = rows.Slice(r, n);
            if (accumulate) System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
            else bias.CopyTo(row);
        }
    }

    public static T SoftmaxRow<T>(ReadOnlySpan<T> logits, Span<T> probabilities, T inverseTemperature) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (IsSingle<T>())
        {
            float result = Softmax.Row(AsSingle(logits), AsSingle(probabilities), float.CreateTruncating(inverseTemperature));
            return T.CreateTruncating(result);
        }
        return SoftmaxReference.Row(logits, probabilities, inverseTemperature);
    }
}
