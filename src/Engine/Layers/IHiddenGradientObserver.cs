// A window onto backpropagation through time: a recurrent layer hands each observer the total gradient at its
// hidden state h(t), step by step from the last to the first, and finally (step -1) the gradient at the state
// carried in from the previous window. The gradient-flow probe uses it to measure how fast gradients vanish.
using System.Numerics;

namespace CharRnn.Engine.Layers;

public interface IHiddenGradientObserver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>dh (B, H): dLoss/dh(step) summed over every path, for step = steps-1 down to 0, then -1.</summary>
    void Observe(int step, ReadOnlySpan<T> dh);
}
