// One forward time step for generation (B streams, usually 1), with the weights divided among threads by
// hidden unit. Generating a character reads every weight once for a handful of rows, so it is bound by how
// fast the weights stream from cache, not by arithmetic; two cores stream two halves at once.
// Part s owns hidden units [u0, u1) of every layer: the rows of W_ih and W_hh that feed those units' gates
// (all of i f g o, or r z n), so it finishes its units' cell locally and the parts meet once per layer.
// It also owns a slice of the vocabulary for the head. Per character: layer 0 (gather), barrier, layer 1, ...,
// barrier, head; the caller then draws from the logits.
// Each part's products see the same k order per output column as the unsplit model (column sums do not
// depend on which columns sit beside them), and unit boundaries fall on multiples of the widest vector, so the
// logits are bit-identical to UnrolledModel's and to any other thread count.
// With bf16 weights every weight matrix is rounded once to bf16 (biases stay float), and the step computes
// what the float model with rounded weights would (RoundedToBFloat16). At one or two streams the panels are
// stored as bf16, so the products read half the bytes; more streams run the tiled kernel, which reads each
// weight once for all rows anyway, so there the rounded weights stay in float panels.
// With int8 weights every matrix but layer 0's input (a row lookup) is 8-bit with a scale per output unit
// (Int8Product). Its sums are exact integers, so the logits are again the same at every thread count, and a
// stream's logits do not depend on the other streams; they differ from the float model's by the rounding.
// Deliberately not here: drawing (Sampler) and training (UnrolledModel).
using CharRnn.Engine.Layers;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Sampling;

public sealed class SplitStepper : IDisposable
{
    private const int UnitAlignment = 16; // split points are multiples of the widest vector (16 floats)

    private readonly ModelConfig _config;
    private readonly Part[] _parts;
    private readonly float[][][] _hidden; // per layer, two (B, H) buffers: h(t-1) and h(t), swapped every step
    private readonly float[] _logits;     // (B, V)
    private readonly int[] _tokens;       // (B) the symbols fed at this step
    private readonly WorkerPool? _pool;
    private readonly SpinBarrier _barrier;
    private readonly Action<int> _runPart; // cached so a step creates no delegate
    private int _parity;                  // which of each layer's two hidden buffers holds h(t-1)

    /// <summary>What one thread owns: its units' weights and state in every layer, and its slice of the head.</summary>
    private sealed class Part
    {
        public int FirstUnit, Units, FirstSymbol, Symbols;
        public float[] Embedding = [];      // (V, G_s) layer 0's W_ih^T columns for this part's gates: the one-hot gather
        public GenerationWeights?[] InputWeights = [];  // per layer (D, G_s) W_ih^T columns; null for layer 0
        public GenerationWeights[] RecurrentWeights = []; // per layer (H, G_s) W_hh^T columns
        public float[][] ProjectionBias = []; // per layer (G_s) b_ih, plus b_hh where the cell folds it (as UnrolledModel sums them)
        public float[][] BiasHh = [];       // per layer (G_s) b_hh: GRU adds it inside the step; the others fold it into ProjectionBias
        public float[] Gates = [];          // (B, G_s) projection, then gate pre-activations, then activations
        public float[] Recurrent = [];      // (B, G_s) GRU only: h(t-1) W_hh^T + b_hh, kept apart for r * hn
        public float[][][] Own = [];        // per layer, two (B, U) buffers: this part's slice of h(t-1) and h(t)
        public float[][][] Cells = [];      // LSTM: per layer, two (B, U) buffers: c(t-1) and c(t)
        public float[] TanhCell = [];       // (B, U) LSTM scratch: tanh(c), not needed after the step
        public GenerationWeights Head = null!; // (H, V_s) W_head^T columns for this part's symbols
        public float[] HeadBias = [];       // (V_s)
    }

    public SplitStepper(CharModel<float> model, int batch, int threads, WeightFormat weights = WeightFormat.Float32)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "at least one stream");
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "at least one thread");
        _config = model.Config;
        Batch = batch;
        if (!Enum.IsDefined(weights)) throw new ArgumentOutOfRangeException(nameof(weights), weights, "not a weight format");
        Weights = weights;
        _halfPanels = weights == WeightFormat.BFloat16 && batch <= 2;
        int hidden = _config.Hidden, layers = _config.Layers, vocab = _config.VocabSize;
        threads = ThreadsFor(hidden, threads);
        Threads = threads;
        _hidden = new float[layers][][];
        for (int l = 0; l < layers; l++) _hidden[l] = [new float[batch * hidden], new float[batch * hidden]];
        _logits = new float[batch * vocab];
        _tokens = new int[batch];
        _parts = new Part[threads];
        for (int s = 0; s < threads; s++)
        {
            int u0 = Boundary(s, threads, hidden), u1 = Boundary(s + 1, threads, hidden);
            var (v0, v1) = WorkSplit.Range(vocab, s, threads);
            _parts[s] = BuildPart(model, u0, u1, v0, v1, batch);
        }
        _barrier = new SpinBarrier(threads);
        _runPart = RunPart;
        _pool = threads > 1 ? new WorkerPool(threads) : null;
    }

    public int Batch { get; }

    /// <summary>How the weight matrices are held (and read).</summary>
    public WeightFormat Weights { get; }

    private readonly bool _halfPanels; // whether the panels themselves are bf16 (else rounded values in float panels)

    /// <summary>Threads that share each step (at most one per 16 hidden units).</summary>
    public int Threads { get; }

    /// <summary>(B, V) the logits of the last Step.</summary>
    public ReadOnlySpan<float> Logits => _logits;

    /// <summary>Bytes allocated on the worker threads so far: lets tests prove a step allocates nothing.</summary>
    public long WorkerAllocatedBytes => _pool?.WorkerAllocatedBytes ?? 0;

    /// <summary>The threads a step of H hidden units runs on when asked for `threads`: at most one per 16-unit
    /// block (more parts than blocks would leave some empty).</summary>
    public static int ThreadsFor(int hidden, int threads) => Math.Max(1, Math.Min(threads, (hidden + UnitAlignment - 1) / UnitAlignment));

    /// <summary>Where part s's units start: whole 16-unit blocks shared out evenly, so with parts ≤ blocks none is empty.</summary>
    private static int Boundary(int s, int parts, int hidden)
    {
        int blocks = (hidden + UnitAlignment - 1) / UnitAlignment;
        return Math.Min(hidden, s * blocks / parts * UnitAlignment);
    }

    private GenerationWeights Matrix(float[] w, int k, int n) => new(w, k, n, Weights, _halfPanels);

    private Part BuildPart(CharModel<float> model, int u0, int u1, int v0, int v1, int batch)
    {
        var layout = model.Layout;
        int hidden = _config.Hidden, units = u1 - u0, gateCount = _config.GateWidth / hidden, gates = gateCount * units;
        var part = new Part { FirstUnit = u0, Units = units, FirstSymbol = v0, Symbols = v1 - v0 };
        int layers = _config.Layers;
        part.InputWeights = new GenerationWeights?[layers];
        part.RecurrentWeights = new GenerationWeights[layers];
        part.ProjectionBias = new float[layers][];
        part.BiasHh = new float[layers][];
        part.Own = new float[layers][][];
        part.Cells = new float[_config.Cell == CellKind.Lstm ? layers : 0][][];
        for (int l = 0; l < layers; l++)
        {
            int inputs = _config.InputWidth(l);
            float[] weightIh = OwnRows(model.View(layout.WeightIh(l)), inputs, hidden, gateCount, u0, units); // (G_s, D)
            if (l == 0)
            {
                part.Embedding = new float[inputs * gates]; // (V, G_s) = the transpose of (G_s, V)
                for (int g = 0; g < gates; g++) for (int v = 0; v < inputs; v++) part.Embedding[v * gates + g] = weightIh[g * inputs + v];
                if (Weights == WeightFormat.BFloat16) Numerics.BFloat16.Round(part.Embedding);
            }
            else
            {
                part.InputWeights[l] = Matrix(weightIh, inputs, gates);
            }
            part.RecurrentWeights[l] = Matrix(OwnRows(model.View(layout.WeightHh(l)), hidden, hidden, gateCount, u0, units), hidden, gates);
            part.ProjectionBias[l] = OwnRows(model.View(layout.BiasIh(l)), 1, hidden, gateCount, u0, units);
            part.BiasHh[l] = OwnRows(model.View(layout.BiasHh(l)), 1, hidden, gateCount, u0, units);
            if (_config.FoldsRecurrentBias) System.Numerics.Tensors.TensorPrimitives.Add(part.ProjectionBias[l], part.BiasHh[l], part.ProjectionBias[l]);
            part.Own[l] = [new float[batch * units], new float[batch * units]];
            if (part.Cells.Length > 0) part.Cells[l] = [new float[batch * units], new float[batch * units]];
        }
        part.Gates = new float[batch * gates];
        part.Recurrent = _config.Cell == CellKind.Gru ? new float[batch * gates] : [];
        part.TanhCell = _config.Cell == CellKind.Lstm ? new float[batch * units] : [];
        var headWeight = model.View(layout.HeadWeight); // (V, H)
        part.Head = Matrix(headWeight.Slice(v0 * hidden, (v1 - v0) * hidden).ToArray(), hidden, v1 - v0);
        part.HeadBias = model.View(layout.HeadBias).Slice(v0, v1 - v0).ToArray();
        return part;
    }

    /// <summary>(gateCount * units, columns): of a (gateCount * H, columns) tensor, the rows of units [u0, u0+units) of every gate.</summary>
    private static float[] OwnRows(ReadOnlySpan<float> tensor, int columns, int hidden, int gateCount, int u0, int units)
    {
        var rows = new float[gateCount * units * columns];
        for (int g = 0; g < gateCount; g++)
        {
            tensor.Slice((g * hidden + u0) * columns, units * columns).CopyTo(rows.AsSpan(g * units * columns));
        }
        return rows;
    }

    /// <summary>Every stream back to zero state (h and c).</summary>
    public void Reset()
    {
        foreach (var pair in _hidden) { Array.Clear(pair[0]); Array.Clear(pair[1]); }
        foreach (var part in _parts)
        {
            foreach (var pair in part.Own) { Array.Clear(pair[0]); Array.Clear(pair[1]); }
            foreach (var pair in part.Cells) { Array.Clear(pair[0]); Array.Clear(pair[1]); }
        }
    }

    /// <summary>Feeds tokens (B), one per stream, advances every state by one step and computes the logits.</summary>
    public void Step(ReadOnlySpan<int> tokens)
    {
        if (_barrier.IsBroken) throw new InvalidOperationException("a previous step failed part-way; this stepper's state is no longer consistent");
        if (tokens.Length != Batch) throw new ArgumentException($"expected {Batch} tokens, got {tokens.Length}", nameof(tokens));
        foreach (int token in tokens)
        {
            if ((uint)token >= (uint)_config.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), token, $"symbols must be in 0..{_config.VocabSize - 1}");
        }
        tokens.CopyTo(_tokens);
        if (_pool != null) _pool.Run(_runPart);
        else RunPart(0);
        _parity ^= 1;
    }

    private void RunPart(int s)
    {
        try
        {
            RunLayers(s);
        }
        catch
        {
            _barrier.Break(); // the other parts would wait at the next barrier forever
            throw;
        }
    }

    private void RunLayers(int s)
    {
        var part = _parts[s];
        int hidden = _config.Hidden, units = part.Units, batch = Batch, previous = _parity, next = _parity ^ 1;
        int gates = part.Gates.Length / batch;
        Span<float> gateRows = part.Gates;
        for (int l = 0; l < _config.Layers; l++)
        {
            // projection = x W_ih^T + (b_ih [+ b_hh] where the cell folds it), for this part's gate columns
            ReadOnlySpan<float> bias = part.ProjectionBias[l];
            if (l == 0)
            {
                for (int b = 0; b < batch; b++) System.Numerics.Tensors.TensorPrimitives.Add(part.Embedding.AsSpan(_tokens[b] * gates, gates), bias, gateRows.Slice(b * gates, gates));
            }
            else
            {
                part.InputWeights[l]!.Multiply(_hidden[l - 1][next], hidden, gateRows, gates, batch, accumulate: false);
                Kernels.AddBiasToRows<float>(bias, gateRows, accumulate: true);
            }
            ReadOnlySpan<float> hPrevious = _hidden[l][previous];  // (B, H) all units: every part reads all of h(t-1)
            Span<float> own = part.Own[l][next];                    // (B, U) this part's units of h(t)
            switch (_config.Cell)
            {
                case CellKind.Lstm:
                    part.RecurrentWeights[l].Multiply(hPrevious, hidden, gateRows, gates, batch, accumulate: true);
                    LstmCell.Forward<float>(gateRows, part.Cells[l][previous], part.Cells[l][next], part.TanhCell, own, units);
                    break;
                case CellKind.Gru:
                    Kernels.AddBiasToRows<float>(part.BiasHh[l], part.Recurrent, accumulate: false);
                    part.RecurrentWeights[l].Multiply(hPrevious, hidden, part.Recurrent, gates, batch, accumulate: true);
                    GruCell.Forward<float>(gateRows, part.Recurrent, part.Own[l][previous], own, units);
                    break;
                default:
                    part.RecurrentWeights[l].Multiply(hPrevious, hidden, gateRows, gates, batch, accumulate: true);
                    RnnCell.Forward<float>(gateRows, own, units);
                    break;
            }
            Span<float> hNext = _hidden[l][next];
            for (int b = 0; b < batch; b++) own.Slice(b * units, units).CopyTo(hNext.Slice(b * hidden + part.FirstUnit, units));
            _barrier.SignalAndWait(); // layer l's h(t) is complete: the layer above and the head may read it
        }
        // logits[:, v0..v1) = b + h_top W_head^T
        Span<float> logits = _logits.AsSpan(part.FirstSymbol);
        int vocab = _config.VocabSize;
        for (int b = 0; b < batch; b++) part.HeadBias.CopyTo(logits.Slice(b * vocab, part.Symbols));
        if (part.Symbols > 0) part.Head.Multiply(_hidden[_config.Layers - 1][next], hidden, logits, vocab, batch, accumulate: true);
    }

    public void Dispose() => _pool?.Dispose();
}
