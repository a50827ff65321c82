// A model unrolled over a window of B streams x T steps: its layers with every activation buffer sized once,
// so forward and backward allocate nothing. Training uses one with the run's (B, T); sampling one with
// (count, 1); evaluation one with (1, chunk). Several may share one CharModel's parameters.
// Time-major throughout: row n = t*B + b of any (T, B, .) buffer is stream b at step t.
using System.Numerics;
using CharRnn.Engine.Layers;

namespace CharRnn.Engine.Model;

public sealed class UnrolledModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentLayer<T>[] _layers;
    private readonly Linear<T> _head;
    private readonly T[] _logits;        // (T, B, V)
    private readonly T[] _probabilities; // (T, B, V) softmax; after Backward, the gradient at the logits
    private readonly T[] _dTop;          // (T, B, H) gradient at the output of the layer being differentiated
    private readonly T[] _dBelow;        // (T, B, H) gradient at its input (the output of the layer below)
    private int _lastSteps;

    public UnrolledModel(CharModel<T> model, int batch, int steps)
    {
        Model = model;
        Batch = batch;
        Steps = steps;
        var config = model.Config;
        _layers = new RecurrentLayer<T>[config.Layers];
        for (int l = 0; l < config.Layers; l++) _layers[l] = CreateLayer(model, l, batch, steps);
        _head = new Linear<T>(model);
        _logits = new T[steps * batch * config.VocabSize];
        _probabilities = new T[steps * batch * config.VocabSize];
        _dTop = new T[steps * batch * config.Hidden];
        _dBelow = new T[steps * batch * config.Hidden];
    }

    public CharModel<T> Model { get; }
    public int Batch { get; }
    public int Steps { get; }
    public IReadOnlyList<RecurrentLayer<T>> Layers => _layers;

    /// <summary>(steps, B, V) logits of the last forward.</summary>
    public ReadOnlySpan<T> Logits => _logits.AsSpan(0, _lastSteps * Batch * Model.Config.VocabSize);

    private static RecurrentLayer<T> CreateLayer(CharModel<T> model, int layer, int batch, int steps) => model.Config.Cell switch
    {
        CellKind.Lstm => new Lstm<T>(model, layer, batch, steps),
        CellKind.Gru => new Gru<T>(model, layer, batch, steps),
        CellKind.Rnn => new VanillaRnn<T>(model, layer, batch, steps),
        // Every named CellKind is handled above; only a cast from an undefined integer lands here.
        _ => throw new ArgumentOutOfRangeException(nameof(model), model.Config.Cell, "undefined cell kind; expected Lstm, Gru or Rnn"),
    };

    /// <summary>tokens (steps*B) time-major; computes logits from the carried state.</summary>
    public void Forward(ReadOnlySpan<int> tokens, int steps)
    {
        if (steps < 1 || steps > Steps) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be in 1..{Steps}");
        if (tokens.Length != steps * Batch) throw new ArgumentException($"expected {steps * Batch} tokens, got {tokens.Length}", nameof(tokens));
        _lastSteps = steps;
        ReadOnlySpan<T> below = default;
        foreach (var layer in _layers)
        {
            layer.Forward(tokens, below, steps);
            below = layer.Output(steps);
        }
        _head.Forward(below, _logits, steps * Batch);
    }

    /// <summary>Forward plus the mean cross-entropy against targets (steps*B), in nats per character.</summary>
    public double ForwardLoss(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int steps)
    {
        Forward(tokens, steps);
        if (targets.Length != tokens.Length) throw new ArgumentException($"expected {tokens.Length} targets, got {targets.Length}", nameof(targets));
        return SoftmaxCrossEntropy.Forward<T>(Logits, targets, _probabilities, Model.Config.VocabSize);
    }

    /// <summary>Backward of the last ForwardLoss; accumulates into gradients (Layout order, zeroed by the caller).</summary>
    public void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, Span<T> gradients)
    {
        int steps = _lastSteps, rows = steps * Batch, h = Model.Config.Hidden;
        SoftmaxCrossEntropy.Backward<T>(_probabilities, targets, Model.Config.VocabSize);
        _head.Backward(_layers[^1].Output(steps), _probabilities, _dTop, gradients, rows);
        Span<T> dTop = _dTop.AsSpan(0, rows * h), dBelow = _dBelow.AsSpan(0, rows * h);
        for (int l = _layers.Length - 1; l >= 0; l--)
        {
            ReadOnlySpan<T> input = l > 0 ? _layers[l - 1].Output(steps) : default;
            _layers[l].Backward(tokens, input, dTop, dBelow, gradients, steps);
            Span<T> swap = dTop; dTop = dBelow; dBelow = swap;
        }
    }

    public void CarryState()
    {
        foreach (var layer in _layers) layer.CarryState(_lastSteps);
    }

    public void ResetState()
    {
        foreach (var layer in _layers) layer.ResetState();
    }
}
