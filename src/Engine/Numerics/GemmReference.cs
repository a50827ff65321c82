// The definition of the engine's matrix product, in any floating type: the scalar twin every Gemm width is
// tested against, and the path the double-precision gradient checks run on.
// A is addressed through two strides so one routine serves A*B and A^T*B without a transposing copy.
using System.Numerics;

namespace CharRnn.Engine.Numerics;

public static class GemmReference
{
    /// <summary>
    /// C(m, n) = [C +] A(m, k) * B(k, n), where A[i, p] = a[i*aRowStride + p*aColStride], B[p, j] = b[p*ldb + j],
    /// C[i, j] = c[i*ldc + j].
    /// </summary>
    public static void Multiply<T>(ReadOnlySpan<T> a, int aRowStride, int aColStride, ReadOnlySpan<T> b, int ldb,
        Span<T> c, int ldc, int m, int n, int k, bool accumulate) where T : INumberBase<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    sum += a[i * aRowStride + p * aColStride] * b[p * ldb + j];
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }

    /// <summary>C(m, n) = [C +] A(m, k) * W^T, A rows lda apart, W (n, k) rows ldw apart: C[i, j] = sum over p of A[i, p] W[j, p].</summary>
    public static void MultiplyByTransposed<T>(ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> w, int ldw,
        Span<T> c, int ldc, int m, int n, int k, bool accumulate) where T : INumberBase<T>
    {
        for (int i = 0; i < m; i++)
        {
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                {
                    sum += a[i * lda + p] * w[j * ldw + p];
                }
                c[i * ldc + j] = accumulate ? c[i * ldc + j] + sum : sum;
            }
        }
    }
}
