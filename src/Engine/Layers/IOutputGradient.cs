// Where a recurrent layer's backward pass gets the loss gradient at its output h(t), one step at a time: from
// the head (dlogits(t) W_head) for the top layer, from the layer above (its da(t) W_ih) for the others, or from
// a buffer (single-layer gradient checks). Pulling it per step means no (T, B, H) gradient buffer is kept
// between the layers (6.5 MB per thread at W1).
namespace CharRnn.Engine.Layers;

public interface IOutputGradient<T> where T : unmanaged
{
    /// <summary>dh (B, H) += the gradient of the loss at the layer's output of step t.</summary>
    void AddTo(int step, Span<T> dh);
}

/// <summary>The output gradient given as a whole (steps, B, H) buffer.</summary>
public sealed class BufferedOutputGradient<T>(ReadOnlyMemory<T> dOutput, int rowSize) : IOutputGradient<T>
    where T : unmanaged, System.Numerics.INumberBase<T>
{
    public void AddTo(int step, Span<T> dh) =>
        System.Numerics.Tensors.TensorPrimitives.Add(dh, dOutput.Span.Slice(step * rowSize, rowSize), dh);
}
