// What every recurrent cell shares: the input projection of all T steps as one product (or, for the one-hot
// first layer, a gather of W_ih^T's rows, step by step), the hidden-state buffer whose slot 0 is the state
// carried in from the previous window, and the parameter-gradient products over all T*B rows after
// backpropagation. A cell (Lstm, Gru, VanillaRnn) supplies the time loop: Recur forward and BackRecur
// backward; it has FillStepProjection ready step t's projection and reads h(t-1) for its recurrent product
// through RecurrentInput, which applies variational recurrent dropout.
// Backward comes in two halves: BackwardThroughTime sends the gradient down the steps and into the input,
// AccumulateWeightGradients then adds the parameter gradients for a range of gate rows. The split lets a
// trainer's threads each run their own streams through time and then each own whole rows of dW, summing
// every share's contribution into one gradient buffer.
using System.Numerics;
using System.Numerics.Tensors;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Layers;

public abstract class RecurrentLayer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    protected readonly CharModel<T> Model;
    protected readonly TensorSpec WeightIh, WeightHh, BiasIh, BiasHh;
    protected readonly int Batch, Steps, Hidden, Gates, InputWidth;

    protected readonly T[] Projection;   // (T, B, G) input projection x W_ih^T + biases (layer 0's rows filled step by step
                                         // in Recur); cells turn it into gates in place
    protected readonly T[] HiddenStates; // (T+1, B, H) slot 0: state carried in; slot t+1: output of step t
    protected readonly T[] DProjection;  // (T, B, G) gradient at the projection (= at the gate pre-activations); the same
                                         // array as Projection: step t's cell backward reads its gates, then overwrites
                                         // them with their gradient, and nothing reads those gates again

    protected readonly T[] DHiddenNext;  // (B, H) gradient reaching h(t) from step t+1
    private readonly T[] _dEmbedding;    // (V, G) layer 0 only: dW_ih^T gathered by token, transposed once at the end
    private readonly T[] _embedding;     // (V, G) layer 0 only: W_ih^T rows plus the projection's biases, one row per symbol
    private readonly int[] _tokens;      // (T, B) layer 0 only: the last Forward's tokens, gathered step by step
    private readonly T[] _recurrentMask; // (B, H) variational dropout mask on h(t-1), one draw per window; empty when off
    private readonly T[] _maskedHidden;  // (T, B, H) h(t-1) * mask, the recurrent product's input at each step; empty when off
    private readonly T[] _dMaskedHidden; // (B, H) gradient at h(t-1) * mask, before it passes back through the mask
    private readonly T[] _projectionBias; // (G) b_ih, plus b_hh where the cell folds it into the projection
    private readonly float _recurrentDropout;

    protected RecurrentLayer(CharModel<T> model, int layer, int batch, int steps, float recurrentDropout = 0f)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 1");
        Model = model;
        LayerIndex = layer;
        var layout = model.Layout;
        WeightIh = layout.WeightIh(layer); WeightHh = layout.WeightHh(layer);
        BiasIh = layout.BiasIh(layer); BiasHh = layout.BiasHh(layer);
        Batch = batch; Steps = steps;
        Hidden = model.Config.Hidden; Gates = model.Config.GateWidth; InputWidth = model.Config.InputWidth(layer);
        Projection = new T[steps * batch * Gates];
        HiddenStates = new T[(steps + 1) * batch * Hidden];
        DProjection = Projection; // halves the largest activation memory (W1: 26 MB per layer and share)
        DHiddenNext = new T[batch * Hidden];
        _dEmbedding = layer == 0 ? new T[InputWidth * Gates] : [];
        _embedding = layer == 0 ? new T[InputWidth * Gates] : [];
        _tokens = layer == 0 ? new int[steps * batch] : [];
        _projectionBias = new T[Gates];
        _recurrentDropout = recurrentDropout;
        bool masked = recurrentDropout > 0;
        if (masked) DropoutMask.Threshold(recurrentDropout); // validates the probability
        _recurrentMask = masked ? new T[batch * Hidden] : [];
        _maskedHidden = masked ? new T[steps * batch * Hidden] : [];
        _dMaskedHidden = masked ? new T[batch * Hidden] : [];
    }

    /// <summary>Whether Forward applies the recurrent dropout mask (training) or reads h(t-1) as it is (evaluation).</summary>
    public bool RecurrentDropoutActive { get; set; }

    /// <summary>Observes the total gradient at this layer's h during backward (the gradient-flow probe); null in training.</summary>
    public IHiddenGradientObserver<T>? GradientObserver { get; set; }

    /// <summary>Draws this window's recurrent dropout mask (B, H): the same mask at every step of the window.</summary>
    public void DrawRecurrentMask(MaskRng rng)
    {
        if (_recurrentDropout > 0) DropoutMask.Fill<T>(_recurrentMask, _recurrentDropout, rng);
    }

    /// <summary>(B, H) the current recurrent dropout mask (empty when recurrent dropout is off).</summary>
    public ReadOnlySpan<T> RecurrentMask => _recurrentMask;

    private bool Masked => RecurrentDropoutActive && _recurrentDropout > 0;

    public int LayerIndex { get; }

    /// <summary>Whether b_hh joins b_ih in the projection (see ModelConfig.FoldsRecurrentBias).</summary>
    protected bool FoldsRecurrentBias => Model.Config.FoldsRecurrentBias;

    /// <summary>(steps, B, H) the hidden state after each step: the input of the next layer and of the head.</summary>
    public ReadOnlySpan<T> Output(int steps) => HiddenStates.AsSpan(Batch * Hidden, steps * Batch * Hidden);

    /// <summary>(B, H) the state slot 0 carries into the next window.</summary>
    public Span<T> InitialHidden => HiddenStates.AsSpan(0, Batch * Hidden);

    /// <summary>Forward over steps &lt;= T from the carried state. Layer 0 reads tokens (steps*B), others input (steps, B, H).</summary>
    public void Forward(ReadOnlySpan<int> tokens, ReadOnlySpan<T> input, int steps)
    {
        ProjectInput(tokens, input, steps);
        Recur(steps);
    }

    /// <summary>
    /// Backward through the steps of the last Forward, with the output gradient as a buffer (the single-layer
    /// gradient checks). dOutput (steps, B, H) is the loss gradient at Output; parameter gradients accumulate
    /// into gradients (Layout order); dInput (steps, B, D) is overwritten (left untouched for layer 0, whose input
    /// is tokens). dInput may be dOutput itself: the recurrence reads all of dOutput before dInput is written.
    /// </summary>
    public void Backward(ReadOnlySpan<int> tokens, ReadOnlySpan<T> input, ReadOnlyMemory<T> dOutput, Span<T> dInput, Span<T> gradients, int steps)
    {
        BackwardThroughTime(new BufferedOutputGradient<T>(dOutput, Batch * Hidden), steps);
        if (LayerIndex > 0) InputGradient(0, steps, dInput, accumulate: false);
        AccumulateWeightGradients(tokens, input, gradients, steps, part: 0, parts: 1);
    }

    /// <summary>
    /// The first half of Backward: the gradient at every step's projection (kept for InputGradient and
    /// AccumulateWeightGradients), from the output gradient that upstream supplies step by step.
    /// </summary>
    public void BackwardThroughTime(IOutputGradient<T> upstream, int steps)
    {
        _upstream = upstream;
        try { BackRecur(steps); }
        finally { _upstream = null; }
    }

    /// <summary>
    /// dx (count, B, D) [+]= the gradient at this layer's input for steps [first, first + count), from the last
    /// BackwardThroughTime (layers above 0): one product over all those steps' rows.
    /// </summary>
    public void InputGradient(int first, int count, Span<T> dx, bool accumulate)
    {
        int bg = Batch * Gates;
        // forward: projection(t) = x(t) W_ih^T  =>  dx(t) = dProjection(t) W_ih
        Model.MultiplyBy(DProjection.AsSpan(first * bg, count * bg), WeightIh, dx, count * Batch, accumulate);
    }

    /// <summary>dh (B, H) += the loss gradient at the output of step t (for the cells' BackRecur).</summary>
    protected void AddOutputGradient(int t, Span<T> dh) => _upstream!.AddTo(t, dh);

    private IOutputGradient<T>? _upstream; // set for the duration of BackwardThroughTime

    /// <summary>
    /// The second half of Backward: adds this layer's gradients for gate rows WorkSplit.Range(G, part, parts) of
    /// W_ih, W_hh, b_ih and b_hh into gradients (Layout order), from the last BackwardThroughTime. input is what
    /// Forward read (tokens for layer 0). Every element sums its rows in the same order however the gate rows are
    /// split (Gemm tiles every A^T product), so the split changes no bit.
    /// </summary>
    public void AccumulateWeightGradients(ReadOnlySpan<int> tokens, ReadOnlySpan<T> input, Span<T> gradients, int steps, int part, int parts)
    {
        var (first, end) = WorkSplit.Range(Gates, part, parts);
        if (first == end) return;
        AccumulateRecurrentGradients(RecurrentGradient(steps), gradients, steps, first, end);
        AccumulateInputGradients(tokens, input, gradients, steps, first, end);
    }

    /// <summary>Makes the final state of the last forward (of `steps` steps) the initial state of the next.</summary>
    public virtual void CarryState(int steps) =>
        HiddenStates.AsSpan(steps * Batch * Hidden, Batch * Hidden).CopyTo(InitialHidden);

    public virtual void ResetState() => InitialHidden.Clear();

    protected abstract void Recur(int steps);

    /// <summary>Fills DProjection (and RecurrentGradient) for every step, backward from the last.</summary>
    protected abstract void BackRecur(int steps);

    /// <summary>(steps, B, G) the gradient at each step's recurrent product, as BackRecur left it.</summary>
    protected abstract ReadOnlySpan<T> RecurrentGradient(int steps);

    /// <summary>
    /// (B, G) step t's projection, x(t) W_ih^T + biases, made ready for the step: call once per step, before
    /// anything writes its gates. Layer 0 fills it here, from the embedding rows of step t's tokens, so the rows
    /// are in cache when the step uses them (a gather of the whole window before the loop left them in L3);
    /// above layer 0, ProjectInput already computed it and this only returns it.
    /// </summary>
    protected Span<T> FillStepProjection(int t)
    {
        int bg = Batch * Gates;
        Span<T> projection = Projection.AsSpan(t * bg, bg);
        if (LayerIndex == 0)
        {
            // One-hot input: x W_ih^T is row x of W_ih^T; a gather, never a multiply by zeros.
            ReadOnlySpan<int> tokens = _tokens.AsSpan(t * Batch, Batch);
            for (int b = 0; b < Batch; b++) _embedding.AsSpan(tokens[b] * Gates, Gates).CopyTo(projection.Slice(b * Gates, Gates));
        }
        return projection;
    }

    /// <summary>(B, H) the input of step t's recurrent product: h(t-1), times the recurrent mask while it is active.</summary>
    protected ReadOnlySpan<T> RecurrentInput(int t)
    {
        int bh = Batch * Hidden;
        ReadOnlySpan<T> previous = HiddenStates.AsSpan(t * bh, bh);
        if (!Masked) return previous;
        Span<T> masked = _maskedHidden.AsSpan(t * bh, bh);
        TensorPrimitives.Multiply(previous, _recurrentMask, masked);
        return masked;
    }

    /// <summary>
    /// Backward of RecurrentInput(t) through the recurrent product: dRecurrent (B, G) is the gradient at
    /// RecurrentInput(t) W_hh^T; dh(t-1) (B, H) receives dRecurrent W_hh (times the mask), added or overwritten.
    /// At t = 0, h(-1) is the state carried in from the previous window, which truncated BPTT cuts off: only the
    /// gradient-flow probe reads its gradient, so without an observer dPrevious is left as it is (one of the T
    /// backward step products per layer saved in training).
    /// </summary>
    protected void BackRecurrentInput(int t, ReadOnlySpan<T> dRecurrent, Span<T> dPrevious, bool accumulate)
    {
        if (t == 0 && GradientObserver == null) return;
        if (!Masked)
        {
            // forward: a(t) += h(t-1) W_hh^T  =>  dh(t-1) (+)= da(t) W_hh
            Model.MultiplyBy(dRecurrent, WeightHh, dPrevious, Batch, accumulate);
            return;
        }
        // forward: a(t) += (h(t-1) * m) W_hh^T  =>  dh(t-1) (+)= (da(t) W_hh) * m
        Span<T> dMasked = _dMaskedHidden;
        Model.MultiplyBy(dRecurrent, WeightHh, dMasked, Batch, accumulate: false);
        if (accumulate) TensorPrimitives.MultiplyAdd<T>(dMasked, _recurrentMask, dPrevious, dPrevious);
        else TensorPrimitives.Multiply<T>(dMasked, _recurrentMask, dPrevious);
    }

    /// <summary>
    /// forward: a(t) += RecurrentInput(t) W_hh^T + b_hh  =>  dW_hh += da^T RecurrentInput over all T*B rows;
    /// db_hh = column sums of da (here only where b_hh stays in the step, GRU; a folded b_hh's gradient comes with
    /// db_ih's); for gate rows [first, end). dRecurrent (steps, B, G) is the gradient at the recurrent product.
    /// </summary>
    private void AccumulateRecurrentGradients(ReadOnlySpan<T> dRecurrent, Span<T> gradients, int steps, int first, int end)
    {
        int bh = Batch * Hidden, rows = steps * Batch;
        ReadOnlySpan<T> inputs = Masked ? _maskedHidden.AsSpan(0, steps * bh) : HiddenStates.AsSpan(0, steps * bh);
        // forward: a(t) += RecurrentInput(t) W_hh^T  =>  dW_hh rows [first, end) += (columns [first, end) of da)^T
        // RecurrentInput, over all T*B rows (A^T read in place through strides)
        Span<T> dWeightHh = gradients.Slice(WeightHh.Offset + first * Hidden, (end - first) * Hidden);
        if (FoldsRecurrentBias)
        {
            // A folded b_hh has b_ih's gradient: AccumulateInputGradients sums both.
            Kernels.Multiply(dRecurrent[first..], 1, Gates, inputs, Hidden, dWeightHh, Hidden, end - first, Hidden, rows, accumulate: true);
            return;
        }
        Kernels.AccumulateWeightAndBiasGradients(dRecurrent[..(rows * Gates)], Gates, first, end - first, inputs, Hidden,
            dWeightHh, gradients.Slice(BiasHh.Offset + first, end - first), rows);
    }

    private void ProjectInput(ReadOnlySpan<int> tokens, ReadOnlySpan<T> input, int steps)
    {
        int rows = steps * Batch;
        // The biases the projection carries, summed once: one pass over the (T, B, G) projection instead of two
        // (layer 0: over its V embedding rows).
        Span<T> bias = _projectionBias;
        Model.View(BiasIh).CopyTo(bias);
        if (FoldsRecurrentBias) TensorPrimitives.Add<T>(bias, Model.View(BiasHh), bias);
        if (LayerIndex == 0)
        {
            // The embedding rows with the biases added once per symbol (V rows, not T*B); FillStepProjection gathers them.
            ReadOnlySpan<T> weightT = Model.Transposed(WeightIh); // (V, G)
            for (int v = 0; v < InputWidth; v++) TensorPrimitives.Add<T>(weightT.Slice(v * Gates, Gates), bias, _embedding.AsSpan(v * Gates, Gates));
            tokens[..rows].CopyTo(_tokens);
            return;
        }
        Span<T> projection = Projection.AsSpan(0, rows * Gates);
        Model.MultiplyByTransposed(input, WeightIh, projection, rows, accumulate: false);
        Kernels.AddBiasToRows<T>(bias, projection, accumulate: true);
    }

    /// <summary>dW_ih and db_ih for gate rows [first, end), and db_hh too where the cell folds b_hh into the projection.</summary>
    private void AccumulateInputGradients(ReadOnlySpan<int> tokens, ReadOnlySpan<T> input, Span<T> gradients, int steps, int first, int end)
    {
        int rows = steps * Batch, count = end - first;
        ReadOnlySpan<T> dProjection = DProjection.AsSpan(0, rows * Gates);
        // forward: projection = x W_ih^T + b_ih [+ b_hh]  =>  db_ih [= db_hh] = sum over rows of dProjection
        Span<T> dBiasIh = gradients.Slice(BiasIh.Offset + first, count);
        Span<T> dBiasHh = FoldsRecurrentBias ? gradients.Slice(BiasHh.Offset + first, count) : default;
        Span<T> dWeightIh = gradients.Slice(WeightIh.Offset, WeightIh.Length); // (G, D)
        if (LayerIndex == 0)
        {
            // forward: projection[n] = W_ih^T[token n]  =>  dW_ih^T[token n] += dProjection[n]; summed per token in
            // dEmbedding's columns [first, end) (parts own disjoint columns), then added transposed.
            Span<T> dEmbedding = _dEmbedding; // (V, G)
            for (int v = 0; v < InputWidth; v++) dEmbedding.Slice(v * Gates + first, count).Clear();
            for (int n = 0; n < rows; n++)
            {
                Span<T> row = dEmbedding.Slice(tokens[n] * Gates + first, count);
                TensorPrimitives.Add(row, dProjection.Slice(n * Gates + first, count), row);
            }
            for (int v = 0; v < InputWidth; v++)
            {
                for (int g = first; g < end; g++) dWeightIh[g * InputWidth + v] += dEmbedding[v * Gates + g];
            }
            // Every row went into exactly one token's row, so the bias gradient's column sums over all rows are
            // the column sums of dEmbedding's V rows: no second pass over dProjection (V rows instead of T*B,
            // fewer whenever a window holds more characters than the vocabulary has symbols, as training's do).
            Kernels.AddColumnSums<T>(dEmbedding, Gates, first, dBiasIh, dBiasHh);
            return;
        }
        // forward: projection = x W_ih^T  =>  dW_ih rows [first, end) += (columns [first, end) of dProjection)^T x,
        // with db_ih's column sums taken from the same read of dProjection
        Kernels.AccumulateWeightAndBiasGradients(dProjection, Gates, first, count, input[..(rows * InputWidth)], InputWidth,
            dWeightIh.Slice(first * InputWidth, count * InputWidth), dBiasIh, rows);
        // A folded b_hh's gradient is b_ih's, bit for bit: the two are cleared together (one tensor group) and every
        // share adds the same sums to both, so copying the result equals adding the sums to it a second time.
        if (FoldsRecurrentBias) dBiasIh.CopyTo(dBiasHh);
    }
}
