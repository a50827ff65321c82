// A stacked LSTM layer exactly as torch.nn.LSTM (gate order i f g o, two biases):
//   a(t) = x(t) W_ih^T + b_ih + h(t-1) W_hh^T + b_hh        (B, 4H)
//   c(t) = f*c(t-1) + i*g,   h(t) = o*tanh(c(t))
// Per step one product with the four gates fused (accumulated straight into the projection) and the cell's
// element-wise passes. Caches for backward: activated gates (in Projection) and c for every step; tanh(c) is
// recomputed in backward (one tanh per unit, against a (T, B, H) buffer: 6.5 MB per layer and share at W1).
using System.Numerics;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public sealed class Lstm<T> : RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _cells;     // (T+1, B, H) slot 0: cell state carried in; slot t+1: c after step t
    private readonly T[] _tanhCell;  // (B, H) tanh(c(t)) of the step in hand: forward's scratch, then backward's recomputation
    private readonly T[] _dCell;     // (B, H) gradient reaching c(t) from step t+1

    public Lstm(CharModel<T> model, int layer, int batch, int steps, float recurrentDropout = 0f) : base(model, layer, batch, steps, recurrentDropout)
    {
        _cells = new T[(steps + 1) * batch * Hidden];
        _tanhCell = new T[batch * Hidden];
        _dCell = new T[batch * Hidden];
    }

    public Span<T> InitialCell => _cells.AsSpan(0, Batch * Hidden);

    public override void CarryState(int steps)
    {
        base.CarryState(steps);
        _cells.AsSpan(steps * Batch * Hidden, Batch * Hidden).CopyTo(InitialCell);
    }

    public override void ResetState()
    {
        base.ResetState();
        InitialCell.Clear();
    }

    protected override void Recur(int steps)
    {
        int bh = Batch * Hidden;
        for (int t = 0; t < steps; t++)
        {
            Span<T> gates = FillStepProjection(t);
            // a(t) += h(t-1) W_hh^T: the four gates in one product.
            Model.MultiplyByTransposed(RecurrentInput(t), WeightHh, gates, Batch, accumulate: true);
            LstmCell.Forward<T>(gates, _cells.AsSpan(t * bh, bh), _cells.AsSpan((t + 1) * bh, bh),
                _tanhCell, HiddenStates.AsSpan((t + 1) * bh, bh), Hidden);
        }
    }

    protected override ReadOnlySpan<T> RecurrentGradient(int steps) => DProjection.AsSpan(0, steps * Batch * Gates);

    protected override void BackRecur(int steps)
    {
        int bh = Batch * Hidden, bg = Batch * Gates;
        Span<T> dh = DHiddenNext, dc = _dCell;
        dh.Clear();
        dc.Clear(); // truncated BPTT: nothing flows back from the next window
        for (int t = steps - 1; t >= 0; t--)
        {
            // forward: h(t) feeds both the layer above and step t+1  =>  dh(t) = dOutput(t) + dh from t+1
            AddOutputGradient(t, dh);
            GradientObserver?.Observe(t, dh);
            Span<T> dGates = DProjection.AsSpan(t * bg, bg);
            LstmCell.Tanh<T>(_cells.AsSpan((t + 1) * bh, bh), _tanhCell, Hidden); // forward: h = o*tanh(c(t))
            LstmCell.Backward<T>(Projection.AsSpan(t * bg, bg), _cells.AsSpan(t * bh, bh), _tanhCell, dh, dc, dGates, Hidden);
            // forward: a(t) += h(t-1) W_hh^T  =>  dh(t-1) = da(t) W_hh (h(t-1) reaches nothing else in step t)
            BackRecurrentInput(t, dGates, dh, accumulate: false);
        }
        GradientObserver?.Observe(-1, dh);
    }
}
