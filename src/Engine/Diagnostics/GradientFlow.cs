// The vanishing gradient, measured. For windows of real text, the loss of the last step t alone is
// differentiated back through time, and the norm of dL_t/dh(t-k) at one layer is recorded for every distance
// k: how much that prediction still depends on the state k steps earlier. A plain tanh RNN multiplies the
// gradient by W_hh^T diag(1 - h^2) at every step and it shrinks geometrically; the LSTM's additive cell path
// (scaled by the forget gate) and the GRU's interpolation (scaled by z) carry it much further.
// Each of the B windows is one stream: it first reads WarmUp characters forward only (so the state it starts
// from is the state of a reader, not zero), then T = maxDistance steps are unrolled and differentiated; the
// state carried into them is distance T.
using System.Numerics;
using CharRnn.Engine.Layers;
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Diagnostics;

public sealed class GradientFlow<T> : IHiddenGradientObserver<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly UnrolledModel<T> _unrolled;
    private readonly T[] _gradients;   // (P) parameter gradients the backward pass needs somewhere to put
    private readonly double[] _sums;   // (K+1) sum over streams of |dL_t/dh(t-k)|
    private readonly int[] _inputs, _targets; // (T, B) time-major
    private readonly int _layer;
    private int _currentSteps; // steps of the probe in progress: turns an observed step into a distance

    /// <param name="windows">streams measured at once (B)</param>
    /// <param name="maxDistance">largest k (K); the unrolled window is K steps plus the carried-in state</param>
    /// <param name="layer">whose hidden state is probed (0 = closest to the input)</param>
    public GradientFlow(CharModel<T> model, int windows, int maxDistance, int layer)
    {
        if (maxDistance < 1) throw new ArgumentOutOfRangeException(nameof(maxDistance), maxDistance, "the largest distance must be at least 1");
        if ((uint)layer >= (uint)model.Config.Layers) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"layer must be in 0..{model.Config.Layers - 1}");
        _unrolled = new UnrolledModel<T>(model, windows, maxDistance);
        _gradients = new T[model.Parameters.Length];
        _sums = new double[maxDistance + 1];
        _inputs = new int[windows * maxDistance];
        _targets = new int[windows * maxDistance];
        _layer = layer;
        MaxDistance = maxDistance;
        Windows = windows;
    }

    public int MaxDistance { get; }
    public int Windows { get; }

    /// <summary>Characters one window reads before it is measured.</summary>
    public int WarmUp => MaxDistance;

    /// <summary>Characters a window needs from its start: warm-up, the measured steps and the last target.</summary>
    public int WindowLength => WarmUp + MaxDistance + 1;

    /// <summary>
    /// Mean over the windows of |dL_t/dh(t-k)| for k = 0..K, where window b starts at starts[b] of tokens.
    /// </summary>
    public double[] Measure(ReadOnlySpan<int> tokens, ReadOnlySpan<int> starts)
    {
        if (starts.Length != Windows) throw new ArgumentException($"expected {Windows} window starts, got {starts.Length}", nameof(starts));
        foreach (int start in starts)
        {
            if (start < 0 || start + WindowLength > tokens.Length)
                throw new ArgumentOutOfRangeException(nameof(starts), start, $"a window needs {WindowLength} characters from its start; the text has {tokens.Length}");
        }
        _unrolled.ResetState();
        FillWindow(tokens, starts, 0);
        _unrolled.Forward(_inputs, MaxDistance); // warm-up: forward only, then its final state is carried in
        _unrolled.CarryState();
        FillWindow(tokens, starts, WarmUp);
        return Probe(MaxDistance);
    }

    /// <summary>
    /// The probe on the window already in the inputs, from the state the unrolled model carries: loss at the
    /// last of `steps` steps only, norms for k = 0..steps. Exposed for tests that set the carried state.
    /// </summary>
    public double[] Probe(int steps, ReadOnlySpan<int> inputs = default, ReadOnlySpan<int> targets = default)
    {
        if (!inputs.IsEmpty) { inputs.CopyTo(_inputs); targets.CopyTo(_targets); }
        int rows = steps * Windows;
        _unrolled.ForwardLoss(_inputs.AsSpan(0, rows), _targets.AsSpan(0, rows), steps);
        Array.Clear(_sums);
        Array.Clear(_gradients);
        _currentSteps = steps;
        var layer = _unrolled.Layers[_layer];
        layer.GradientObserver = this;
        try { _unrolled.Backward(_inputs.AsSpan(0, rows), _targets.AsSpan(0, rows), _gradients, firstLossStep: steps - 1); }
        finally { layer.GradientObserver = null; }
        // Backward scaled every gradient by 1/(steps*B), the mean ForwardLoss took; undo it, then average the B streams.
        var result = new double[steps + 1];
        for (int k = 0; k <= steps; k++) result[k] = _sums[k] * rows / Windows;
        return result;
    }

    /// <summary>The unrolled model the probe runs (tests set its carried state).</summary>
    public UnrolledModel<T> Unrolled => _unrolled;

    void IHiddenGradientObserver<T>.Observe(int step, ReadOnlySpan<T> dh)
    {
        int k = _currentSteps - 1 - step; // step -1 (the carried-in state) is distance `steps`
        int hidden = dh.Length / Windows;
        double total = 0;
        for (int b = 0; b < Windows; b++)
        {
            double squares = 0;
            foreach (T g in dh.Slice(b * hidden, hidden)) { double x = double.CreateTruncating(g); squares += x * x; }
            total += Math.Sqrt(squares);
        }
        _sums[k] += total;
    }

    private void FillWindow(ReadOnlySpan<int> tokens, ReadOnlySpan<int> starts, int offset)
    {
        for (int t = 0; t < MaxDistance; t++)
        {
            for (int b = 0; b < Windows; b++)
            {
                _inputs[t * Windows + b] = tokens[starts[b] + offset + t];
                _targets[t * Windows + b] = tokens[starts[b] + offset + t + 1];
            }
        }
    }

    /// <summary>Window starts spread evenly over a text of the given length.</summary>
    public int[] EvenStarts(int textLength)
    {
        int room = textLength - WindowLength;
        if (room < 0) throw new ArgumentException($"the text has {textLength} characters; one window needs {WindowLength}", nameof(textLength));
        var starts = new int[Windows];
        for (int b = 0; b < Windows; b++) starts[b] = (int)((long)room * b / Math.Max(Windows - 1, 1));
        return starts;
    }
}
