// The loss: softmax cross-entropy of each row's logits against its target, averaged over the rows
// (torch.nn.CrossEntropyLoss with mean reduction). Forward keeps the probabilities; backward turns them,
// in place, into the gradient at the logits.
using System.Numerics;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public static class SoftmaxCrossEntropy
{
    /// <summary>probabilities (rows, V) written (they may be the logits themselves); returns the mean of -log p[target]
    /// over rows, summed in double.</summary>
    public static double Forward<T>(ReadOnlySpan<T> logits, ReadOnlySpan<int> targets, Span<T> probabilities, int vocab)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double total = 0;
        for (int n = 0; n < targets.Length; n++)
        {
            ReadOnlySpan<T> z = logits.Slice(n * vocab, vocab);
            T targetLogit = z[targets[n]]; // read first: probabilities may overwrite the logits in place
            T logPartition = Kernels.SoftmaxRow(z, probabilities.Slice(n * vocab, vocab), T.One);
            // -log softmax(z)[y] = log sum exp(z) - z[y]: exact, no log of a rounded probability.
            total += double.CreateTruncating(logPartition - targetLogit);
        }
        return targets.Length == 0 ? 0 : total / targets.Length;
    }

    /// <summary>
    /// forward: loss = mean(-log softmax(z)[y])  =>  dz = (softmax(z) - onehot(y)) / rows, in place. meanRows
    /// (default: these rows) is the count the mean divides by: a trainer's share passes the whole batch's, so
    /// that its gradient is its part of the batch gradient and the shares' gradients simply add.
    /// </summary>
    public static void Backward<T>(Span<T> probabilitiesToGradient, ReadOnlySpan<int> targets, int vocab, int meanRows = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (targets.Length == 0) return;
        T scale = T.One / T.CreateTruncating(meanRows > 0 ? meanRows : targets.Length);
        Span<T> d = probabilitiesToGradient[..(targets.Length * vocab)];
        System.Numerics.Tensors.TensorPrimitives.Multiply(d, scale, d);
        for (int n = 0; n < targets.Length; n++) d[n * vocab + targets[n]] -= scale;
    }
}
