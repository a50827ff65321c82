// A stacked GRU layer exactly as torch.nn.GRU (gate order r z n, two biases):
//   p(t) = x(t) W_ih^T + b_ih        q(t) = h(t-1) W_hh^T + b_hh        (B, 3H) each
//   r = sigmoid(p_r + q_r)   z = sigmoid(p_z + q_z)   n = tanh(p_n + r*q_n)   h(t) = (1-z)*n + z*h(t-1)
// Unlike LSTM and RNN, b_hh cannot fold into the projection: r multiplies q_n with its bias, so q(t) is a
// buffer of its own, one product per step. Caches for backward: activated r z n (in Projection), q(t) for
// every step (for q_n), h for every step (HiddenStates).
using System.Numerics;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public sealed class Gru<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _recurrent;  // (T, B, 3H) q(t) = h(t-1) W_hh^T + b_hh, order r z n; kept for backward
    private readonly T[] _dRecurrent; // (T, B, 3H) gradient at q(t): [da_r | da_z | da_n*r]; the same array as _recurrent
                                      // (step t's cell backward reads q(t) before writing its gradient there)
    private readonly T[] _dh;         // (B, H) total gradient at h(t): dOutput(t) + what step t+1 sent back

    public Gru(CharModel<T> model, int layer, int batch, int steps, float recurrentDropout = 0f) : base(model, layer, batch, steps, recurrentDropout)
    {
        _recurrent = new T[steps * batch * Gates];
        _dRecurrent = _recurrent;
        _dh = new T[batch * Hidden];
    }

    protected override void Recur(int steps)
    {
        int bh = Batch * Hidden, bg = Batch * Gates;
        ReadOnlySpan<T> biasHh = Model.View(BiasHh);            // (3H)
        for (int t = 0; t < steps; t++)
        {
            Span<T> recurrent = _recurrent.AsSpan(t * bg, bg);
            // q(t) = b_hh + h(t-1) W_hh^T: the three gates in one product.
            Kernels.AddBiasToRows<T>(biasHh, recurrent, accumulate: false);
            Model.MultiplyByTransposed(RecurrentInput(t), WeightHh, recurrent, Batch, accumulate: true);
            GruCell.Forward<T>(FillStepProjection(t), recurrent, HiddenStates.AsSpan(t * bh, bh),
                HiddenStates.AsSpan((t + 1) * bh, bh), Hidden);
        }
    }

    protected override ReadOnlySpan<T> RecurrentGradient(int steps) => _dRecurrent.AsSpan(0, steps * Batch * Gates);

    protected override void BackRecur(int steps)
    {
        int bh = Batch * Hidden, bg = Batch * Gates;
        // dhNext: gradient reaching h(t) from step t+1; dh: the total at h(t), a separate buffer because the
        // cell writes the direct part of dh(t-1) into dhNext while it still reads dh(t).
        Span<T> dh = _dh, dhNext = DHiddenNext;
        dhNext.Clear(); // truncated BPTT: nothing flows back from the next window
        for (int t = steps - 1; t >= 0; t--)
        {
            // forward: h(t) feeds both the layer above and step t+1  =>  dh(t) = dOutput(t) + dh from t+1
            dhNext.CopyTo(dh);
            AddOutputGradient(t, dh);
            GradientObserver?.Observe(t, dh);
            Span<T> dRecurrent = _dRecurrent.AsSpan(t * bg, bg);
            // forward: h(t) = (1-z)*n + z*h(t-1)  =>  dhNext = dh*z (direct part); dp(t), dq(t) for the gates
            GruCell.Backward<T>(Projection.AsSpan(t * bg, bg), _recurrent.AsSpan(t * bg, bg), HiddenStates.AsSpan(t * bh, bh), dh,
                DProjection.AsSpan(t * bg, bg), dRecurrent, dhNext, Hidden);
            // forward: q(t) = h(t-1) W_hh^T + b_hh  =>  dh(t-1) += dq(t) W_hh (added to the direct part dh*z)
            BackRecurrentInput(t, dRecurrent, dhNext, accumulate: true);
        }
        GradientObserver?.Observe(-1, dhNext);
    }
}
