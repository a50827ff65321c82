// The definition of Softmax.Row in any floating type: exact library exp, sequential sums. The scalar twin
// of every vector width, and the double-precision path of the gradient checks.
using System.Numerics;

namespace CharRnn.Engine.Numerics;

public static class SoftmaxReference
{
    public static T Row<T>(ReadOnlySpan<T> logits, Span<T> probabilities, T inverseTemperature) where T : IFloatingPointIeee754<T>
    {
        T max = T.NegativeInfinity;
        foreach (T z in logits) max = T.Max(max, z);
        T sum = T.Zero;
        for (int j = 0; j < logits.Length; j++)
        {
            probabilities[j] = T.Exp((logits[j] - max) * inverseTemperature);
            sum += probabilities[j];
        }
        T scale = T.One / sum;
        for (int j = 0; j < logits.Length; j++) probabilities[j] *= scale;
        return T.Log(sum) + max * inverseTemperature;
    }
}
