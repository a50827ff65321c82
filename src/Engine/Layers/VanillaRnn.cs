// A stacked tanh RNN layer exactly as torch.nn.RNN(nonlinearity='tanh') (two biases, G = H):
//   a(t) = x(t) W_ih^T + b_ih + h(t-1) W_hh^T + b_hh        (B, H)
//   h(t) = tanh(a(t))
// Both biases fold into the projection; per step one product accumulated straight into it and one fused
// element-wise pass. Caches for backward: h for every step (HiddenStates); Projection ends up holding tanh(a).
// Deliberately not here: the ReLU variant (PyTorch's other nonlinearity).
using System.Numerics;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public sealed class VanillaRnn<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public VanillaRnn(CharModel<T> model, int layer, int batch, int steps, float recurrentDropout = 0f) : base(model, layer, batch, steps, recurrentDropout)
    {
    }

    protected override void Recur(int steps)
    {
        int bh = Batch * Hidden;
        for (int t = 0; t < steps; t++)
        {
            Span<T> a = FillStepProjection(t);
            // a(t) += h(t-1) W_hh^T
            Model.MultiplyByTransposed(RecurrentInput(t), WeightHh, a, Batch, accumulate: true);
            RnnCell.Forward<T>(a, HiddenStates.AsSpan((t + 1) * bh, bh), Hidden);
        }
    }

    protected override ReadOnlySpan<T> RecurrentGradient(int steps) => DProjection.AsSpan(0, steps * Batch * Hidden);

    protected override void BackRecur(int steps)
    {
        int bh = Batch * Hidden; // G = H: a projection row is as wide as a hidden row
        Span<T> dh = DHiddenNext;
        dh.Clear(); // truncated BPTT: nothing flows back from the next window
        for (int t = steps - 1; t >= 0; t--)
        {
            // forward: h(t) feeds both the layer above and step t+1  =>  dh(t) = dOutput(t) + dh from t+1
            AddOutputGradient(t, dh);
            GradientObserver?.Observe(t, dh);
            Span<T> dA = DProjection.AsSpan(t * bh, bh);
            // forward: h(t) = tanh(a(t))  =>  da(t) = dh(t) * (1 - h(t)^2)
            RnnCell.Backward<T>(HiddenStates.AsSpan((t + 1) * bh, bh), dh, dA, Hidden);
            // forward: a(t) += h(t-1) W_hh^T  =>  dh(t-1) = da(t) W_hh (h(t-1) reaches nothing else in step t)
            BackRecurrentInput(t, dA, dh, accumulate: false);
        }
        GradientObserver?.Observe(-1, dh);
    }
}
