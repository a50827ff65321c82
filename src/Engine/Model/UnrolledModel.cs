// A model unrolled over a window of B streams x T steps: its layers with every activation buffer sized once,
// so forward and backward allocate nothing. Training uses one with the run's (B, T); sampling one with
// (count, 1); evaluation one with (1, chunk). Several may share one CharModel's parameters.
// Time-major throughout: row n = t*B + b of any (T, B, .) buffer is stream b at step t.
// Dropout (training only): DrawMasks cuts fresh masks for a window; Forward applies them while Training is
// true and DrawMasks has run; with Training false every mask is skipped, so evaluation is exactly the
// undropped network.
using System.Numerics;
using System.Numerics.Tensors;
using CharRnn.Engine.Layers;
using CharRnn.Engine.Regularization;

namespace CharRnn.Engine.Model;

public sealed class UnrolledModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly RecurrentLayer<T>[] _layers;
    private readonly Linear<T> _head;
    private readonly T[] _logits;        // (T, B, V)
    private readonly T[] _probabilities; // (T, B, V) softmax; after Backward, the gradient at the logits; the same
                                         // array as _logits in a model built with keepLogits: false
    private readonly GradientFromAbove[] _fromAbove; // per layer: its output gradient, pulled step by step, computed by chunk
    private readonly T[] _chunk;         // (C, B, H) output gradients of C steps of the layer in hand, C = min(T, ChunkSteps)
    private int _chunkLayer = -1, _chunkStart, _chunkEnd; // what _chunk holds: layer, steps [start, end)
    private const int ChunkSteps = 16;   // 16 x B rows per product: batched enough, 1 MB at W1 instead of 6.5 for all T
    private readonly T[][] _outputMasks; // per layer (T, B, H) inverted-dropout mask on the layer's output; empty when off
    private readonly T[][] _dropped;     // per layer (T, B, H) output * mask: what the layer above and the head read
    private bool _masksDrawn;
    private bool _outputDropoutApplied;  // whether the last Forward read _dropped (Backward must then undo the masks)
    private int _lastSteps;

    /// <summary>keepLogits: false lets ForwardLoss turn the logits into probabilities in place (a trainer's
    /// shares, which never read the logits: 0.9 MB each at W1); Logits then holds probabilities after ForwardLoss.</summary>
    public UnrolledModel(CharModel<T> model, int batch, int steps, Dropout dropout = default, bool keepLogits = true)
    {
        Model = model;
        Batch = batch;
        Steps = steps;
        Dropout = dropout.Validated();
        var config = model.Config;
        _layers = new RecurrentLayer<T>[config.Layers];
        for (int l = 0; l < config.Layers; l++) _layers[l] = CreateLayer(model, l, batch, steps, Dropout.Recurrent);
        int outputSize = Dropout.Output > 0 ? steps * batch * config.Hidden : 0;
        _outputMasks = new T[config.Layers][];
        _dropped = new T[config.Layers][];
        for (int l = 0; l < config.Layers; l++) { _outputMasks[l] = new T[outputSize]; _dropped[l] = new T[outputSize]; }
        _head = new Linear<T>(model);
        _logits = new T[steps * batch * config.VocabSize];
        _probabilities = keepLogits ? new T[steps * batch * config.VocabSize] : _logits;
        _fromAbove = new GradientFromAbove[config.Layers];
        for (int l = 0; l < config.Layers; l++) _fromAbove[l] = new GradientFromAbove(this, l);
        _chunk = new T[Math.Min(steps, ChunkSteps) * batch * config.Hidden];
    }

    /// <summary>
    /// The loss gradient at layer l's output h(t), computed when its backward first asks for a step of a chunk:
    /// dlogits W_head for the top layer, the layer above's input gradient da W_ih for the others, times l's
    /// output dropout mask when Forward applied it; one product over the chunk's rows. The layers run their
    /// backward one after another, so one chunk buffer serves them all, and nothing (T, B, H)-sized is kept.
    /// </summary>
    private sealed class GradientFromAbove(UnrolledModel<T> owner, int layer) : IOutputGradient<T>
    {
        public void AddTo(int step, Span<T> dh)
        {
            var o = owner;
            int bh = o.Batch * o.Model.Config.Hidden;
            if (o._chunkLayer != layer || step < o._chunkStart || step >= o._chunkEnd) Fill(step, bh);
            // forward: h(t) feeds the layer above (or the head)  =>  dh(t) += dOutput(t)
            TensorPrimitives.Add(dh, o._chunk.AsSpan((step - o._chunkStart) * bh, bh), dh);
        }

        /// <summary>The chunk of steps ending at step (backward visits steps downward).</summary>
        private void Fill(int step, int bh)
        {
            var o = owner;
            int count = Math.Min(step + 1, o._chunk.Length / bh), first = step + 1 - count, rows = count * o.Batch;
            Span<T> chunk = o._chunk.AsSpan(0, count * bh); // (count, B, H)
            if (layer == o._layers.Length - 1)
            {
                int v = o.Model.Config.VocabSize;
                o._head.InputGradient(o._probabilities.AsSpan(first * o.Batch * v, rows * v), chunk, rows, accumulate: false);
            }
            else
            {
                o._layers[layer + 1].InputGradient(first, count, chunk, accumulate: false);
            }
            // forward: passed up = output * mask  =>  dOutput = dPassedUp * mask
            if (o._outputDropoutApplied) TensorPrimitives.Multiply(chunk, o._outputMasks[layer].AsSpan(first * bh, count * bh), chunk);
            (o._chunkLayer, o._chunkStart, o._chunkEnd) = (layer, first, step + 1);
        }
    }

    public CharModel<T> Model { get; }
    public int Batch { get; }
    public int Steps { get; }
    public IReadOnlyList<RecurrentLayer<T>> Layers => _layers;
    public Dropout Dropout { get; }

    /// <summary>Dropout masks apply only while true (and after DrawMasks); false gives the deterministic network.</summary>
    public bool Training { get; set; } = true;

    /// <summary>Fresh masks for the next window: every layer's output mask (T, B, H), then its recurrent mask (B, H).</summary>
    public void DrawMasks(MaskRng rng)
    {
        for (int l = 0; l < _layers.Length; l++)
        {
            if (Dropout.Output > 0) DropoutMask.Fill<T>(_outputMasks[l], Dropout.Output, rng);
            _layers[l].DrawRecurrentMask(rng);
        }
        _masksDrawn = true;
    }

    /// <summary>(steps, B, V) logits of the last forward (in a model built with keepLogits: false, ForwardLoss turns
    /// them into probabilities and BackwardThroughTime into the gradient at the logits).</summary>
    public ReadOnlySpan<T> Logits => _logits.AsSpan(0, _lastSteps * Batch * Model.Config.VocabSize);

    private static RecurrentLayer<T> CreateLayer(CharModel<T> model, int layer, int batch, int steps, float recurrentDropout) => model.Config.Cell switch
    {
        CellKind.Lstm => new Lstm<T>(model, layer, batch, steps, recurrentDropout),
        CellKind.Gru => new Gru<T>(model, layer, batch, steps, recurrentDropout),
        CellKind.Rnn => new VanillaRnn<T>(model, layer, batch, steps, recurrentDropout),
        // Every named CellKind is handled above; only a cast from an undefined integer lands here.
        _ => throw new ArgumentOutOfRangeException(nameof(model), model.Config.Cell, "undefined cell kind; expected Lstm, Gru or Rnn"),
    };

    /// <summary>tokens (steps*B) time-major; computes logits from the carried state.</summary>
    public void Forward(ReadOnlySpan<int> tokens, int steps)
    {
        if (steps < 1 || steps > Steps) throw new ArgumentOutOfRangeException(nameof(steps), steps, $"steps must be in 1..{Steps}");
        if (tokens.Length != steps * Batch) throw new ArgumentException($"expected {steps * Batch} tokens, got {tokens.Length}", nameof(tokens));
        _lastSteps = steps;
        bool masks = Training && _masksDrawn;
        _outputDropoutApplied = masks && Dropout.Output > 0;
        int n = steps * Batch * Model.Config.Hidden;
        ReadOnlySpan<T> below = default;
        for (int l = 0; l < _layers.Length; l++)
        {
            _layers[l].RecurrentDropoutActive = masks;
            _layers[l].Forward(tokens, below, steps);
            below = _layers[l].Output(steps);
            if (_outputDropoutApplied)
            {
                TensorPrimitives.Multiply(below, _outputMasks[l].AsSpan(0, n), _dropped[l].AsSpan(0, n));
                below = _dropped[l].AsSpan(0, n);
            }
        }
        _head.Forward(below, _logits, steps * Batch);
    }

    /// <summary>(steps, B, H) what the layer above layer l (or the head) read in the last Forward.</summary>
    private ReadOnlySpan<T> PassedUp(int l, int steps) =>
        _outputDropoutApplied ? _dropped[l].AsSpan(0, steps * Batch * Model.Config.Hidden) : _layers[l].Output(steps);

    /// <summary>Forward plus the mean cross-entropy against targets (steps*B), in nats per character.</summary>
    public double ForwardLoss(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, int steps)
    {
        Forward(tokens, steps);
        if (targets.Length != tokens.Length) throw new ArgumentException($"expected {tokens.Length} targets, got {targets.Length}", nameof(targets));
        return SoftmaxCrossEntropy.Forward<T>(Logits, targets, _probabilities, Model.Config.VocabSize);
    }

    /// <summary>
    /// Backward of the last ForwardLoss; accumulates into gradients (Layout order, zeroed by the caller).
    /// With firstLossStep > 0 only the losses of steps firstLossStep.. send gradient back (still scaled by
    /// 1/(steps*B), the mean ForwardLoss took): the gradient-flow probe differentiates the last step alone.
    /// </summary>
    public void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<int> targets, Span<T> gradients, int firstLossStep = 0)
    {
        BackwardThroughTime(targets, firstLossStep);
        AccumulateWeightGradients(tokens, gradients, part: 0, parts: 1);
    }

    /// <summary>
    /// The first half of Backward: the gradients at every activation, from the loss down through the layers and
    /// the steps, kept for AccumulateWeightGradients. meanRows: see SoftmaxCrossEntropy.Backward.
    /// </summary>
    public void BackwardThroughTime(ReadOnlySpan<int> targets, int firstLossStep = 0, int meanRows = 0)
    {
        int steps = _lastSteps, rows = steps * Batch, v = Model.Config.VocabSize;
        if ((uint)firstLossStep >= (uint)steps) throw new ArgumentOutOfRangeException(nameof(firstLossStep), firstLossStep, $"must be in 0..{steps - 1}");
        SoftmaxCrossEntropy.Backward<T>(_probabilities.AsSpan(0, rows * v), targets, v, meanRows);
        _probabilities.AsSpan(0, firstLossStep * Batch * v).Clear();
        // Top layer first: each layer's backward pulls its output gradient from the finished layer above.
        _chunkLayer = -1; // nothing of this pass computed yet
        for (int l = _layers.Length - 1; l >= 0; l--) _layers[l].BackwardThroughTime(_fromAbove[l], steps);
    }

    /// <summary>
    /// The second half of Backward: adds part `part` of `parts` of every parameter gradient (rows
    /// WorkSplit.Range of each tensor) into gradients, from the last BackwardThroughTime. tokens: the inputs of
    /// the last Forward. Parts touch disjoint rows, so threads can run them at once.
    /// </summary>
    public void AccumulateWeightGradients(ReadOnlySpan<int> tokens, Span<T> gradients, int part, int parts)
    {
        for (int group = TensorGroups - 1; group >= 0; group--) AccumulateWeightGradients(group, tokens, gradients, part, parts);
    }

    /// <summary>The parameter tensor groups (ParameterLayout.GroupTensors: one per layer, the head's last), which
    /// AccumulateWeightGradients can add separately.</summary>
    public int TensorGroups => Model.Layout.TensorGroups;

    /// <summary>AccumulateWeightGradients for one tensor group's rows of part `part` of `parts` only.</summary>
    public void AccumulateWeightGradients(int group, ReadOnlySpan<int> tokens, Span<T> gradients, int part, int parts)
    {
        if ((uint)group >= (uint)TensorGroups) throw new ArgumentOutOfRangeException(nameof(group), group, $"must be in 0..{TensorGroups - 1}");
        int steps = _lastSteps, rows = steps * Batch;
        if (group == _layers.Length)
        {
            _head.AccumulateWeightGradients(PassedUp(_layers.Length - 1, steps), _probabilities, gradients, rows, part, parts);
            return;
        }
        ReadOnlySpan<T> input = group > 0 ? PassedUp(group - 1, steps) : default;
        _layers[group].AccumulateWeightGradients(tokens, input, gradients, steps, part, parts);
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
