// One optimizer step at a time over the training windows: forward, loss, backward, clip, Adam, repack, and
// carry the hidden state into the next window (reset at each epoch start). Allocates nothing once built.
// Data parallel over threads, in one job per step:
//   1. the B streams are split into Threads contiguous shares; each thread runs its share's unrolled model
//      forward and back through time, scaling its loss gradient by 1/(B*T) (the whole batch's mean), so the
//      shares' gradients are parts of one sum;
//   2. then the parameter gradients, as GradientUnits: each tensor group's rows are cut into one part per
//      share (WorkSplit), and every share's contribution to a part is added, straight into the one gradient
//      buffer (no per-share copies: 13 MB each at W1), in an order fixed per part that starts at a different
//      share for each part. A thread whose share finishes first adds its share to its own part at once, and
//      any free thread takes any unit that is ready, so the threads no longer wait for the slowest share and
//      then split the gradients evenly whatever their speed (session 12: the waiting share of W1's thread time
//      from ~5% to ~1%).
// Fixed shares, parts and per-part orders make a run bit-identical for a given seed and thread count, whichever
// thread runs which unit. After Adam the threads share the repacking of the weights (CharModel.Pack(part, parts)).
// Deliberately not here: validation scheduling, checkpoints and printing (the runner owns the loop's policy).
using CharRnn.Engine.Model;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Threading;

namespace CharRnn.Engine.Training;

public readonly record struct StepResult(long Step, int Epoch, double Loss, double GradientNorm, bool Applied);

public sealed class Trainer : IDisposable
{
    private readonly ITrainingWindows _batches;
    private readonly Share[] _shares;
    private readonly WorkerPool? _pool;
    private readonly Action<int> _runStep; // cached so a step creates no delegate
    private readonly GradientUnits _units;
    private readonly Action<int> _packPart; // the same for the shared repacking after the update
    private readonly MaskRng _masks;

    /// <summary>One thread's streams [FirstStream, FirstStream + Streams) of every window.</summary>
    private sealed class Share(CharModel<float> model, int firstStream, int streams, int steps, Dropout dropout)
    {
        public readonly int FirstStream = firstStream, Streams = streams;
        public readonly UnrolledModel<float> Unrolled = new(model, streams, steps, dropout, keepLogits: false);
        public readonly int[] Inputs = new int[streams * steps];   // (T, B_s) time-major window inputs
        public readonly int[] Targets = new int[streams * steps];  // (T, B_s) the characters that follow them
        public double Loss;
    }

    public Trainer(CharModel<float> model, int[] trainTokens, TrainerOptions options)
        : this(model, new CorpusBatches(Checked(model, trainTokens), options.Validated().Batch, options.Steps), options)
    {
    }

    private static int[] Checked(CharModel<float> model, int[] tokens)
    {
        model.Config.CheckTokens(tokens, "trainTokens");
        return tokens;
    }

    /// <summary>Training over windows from any source (a token file for corpora too large for memory).</summary>
    public Trainer(CharModel<float> model, ITrainingWindows windows, TrainerOptions options)
    {
        Options = options.Validated();
        Model = model;
        if (windows.Batch != options.Batch || windows.Steps != options.Steps)
            throw new ArgumentException($"windows of {windows.Batch} x {windows.Steps} do not match batch {options.Batch} x steps {options.Steps}", nameof(windows));
        _batches = windows;
        Gradients = new float[model.Parameters.Length];
        Optimizer = new Adam(model.Parameters.Length, options.LearningRate);
        _masks = new MaskRng(options.Seed ^ 0xD50F_0A75_D50F_0A75UL); // its own stream: dropout never shifts other draws
        int threads = options.Threads;
        _shares = new Share[threads];
        for (int s = 0; s < threads; s++)
        {
            var (first, end) = WorkSplit.Range(options.Batch, s, threads);
            _shares[s] = new Share(model, first, end - first, options.Steps, options.Dropout);
        }
        _units = new GradientUnits(threads, _shares[0].Unrolled.TensorGroups);
        _runStep = RunStep;
        _packPart = part => Model.Pack(part, threads);
        _pool = threads > 1 ? new WorkerPool(threads, timed: true) : null; // two jobs per step: the timing costs nothing
        model.Pack();
    }

    public TrainerOptions Options { get; }
    public CharModel<float> Model { get; }
    public Adam Optimizer { get; }
    public float[] Gradients { get; } // (P) Layout order, gradients of the last step (after clipping)
    public long Step { get; private set; }
    public int Epoch { get; private set; }
    public int Window { get; private set; }
    public int WindowsPerEpoch => _batches.WindowsPerEpoch;

    /// <summary>Multiplies the scheduled learning rate; the divergence guard lowers it after non-finite steps.</summary>
    public float LearningRateScale
    {
        get => _learningRateScale;
        set => _learningRateScale = value > 0 && float.IsFinite(value) ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "the learning-rate scale must be a positive number");
    }

    private float _learningRateScale = 1f;

    /// <summary>Bytes allocated on the worker threads so far (0 workers with one thread): for allocation tests.</summary>
    public long WorkerAllocatedBytes => _pool?.WorkerAllocatedBytes ?? 0;

    /// <summary>Time the threads spent in the parallel jobs, and working in them (all zero with one thread): the
    /// rest is hand-offs, waiting for a gradient unit to become ready, and waiting for the last thread at each
    /// job's end. Read between steps.</summary>
    public PoolTimes ThreadTimes => _pool is null ? default : _pool.Times.LessBusy(_units.WaitTime);

    /// <summary>The first share's unrolled model (all of the batch when Threads is 1).</summary>
    public UnrolledModel<float> Unrolled => _shares[0].Unrolled;

    public StepResult TrainStep()
    {
        // Masks are drawn here, share by share in order, so they depend on the seed and the thread count only.
        if (Options.Dropout.Any)
        {
            foreach (var share in _shares) share.Unrolled.DrawMasks(_masks);
        }
        _units.Reset();
        if (_pool != null) _pool.Run(_runStep);
        else RunStep(0);
        // Only now may the shares carry their final state into slot 0: the gradient units read h(-1) there.
        foreach (var share in _shares) share.Unrolled.CarryState();

        double loss;
        if (_shares.Length == 1)
        {
            loss = _shares[0].Loss;
        }
        else
        {
            // mean over B*T = sum over shares of (B_s/B) * (mean over B_s*T), in share order
            loss = 0;
            foreach (var share in _shares) loss += (double)share.Streams / Options.Batch * share.Loss;
        }
        double norm = GradientClipping.ClipByGlobalNorm(Gradients, Options.ClipNorm);
        bool finite = double.IsFinite(loss) && double.IsFinite(norm);
        if (finite)
        {
            float scheduled = Options.Schedule is LearningRateSchedule schedule ? schedule.At(Step + 1) : Options.LearningRate;
            Optimizer.LearningRate = scheduled * LearningRateScale;
            Optimizer.Step(Model.Parameters, Gradients);
            if (_pool != null) _pool.Run(_packPart); // the weights' copies are independent jobs: share them
            else Model.Pack();
        }
        Step++;
        int epoch = Epoch;
        if (++Window == _batches.WindowsPerEpoch)
        {
            Window = 0;
            Epoch++;
        }
        return new StepResult(Step, epoch, loss, norm, finite);
    }

    /// <summary>The state after the last step (copies): with the parameters, all a resumed run needs.</summary>
    public TrainerState Capture()
    {
        int layers = Model.Config.Layers, hidden = Model.Config.Hidden;
        var hiddenStates = new float[layers][];
        var cells = new float[Model.Config.Cell == CellKind.Lstm ? layers : 0][];
        for (int l = 0; l < layers; l++)
        {
            hiddenStates[l] = new float[Options.Batch * hidden];
            if (cells.Length > 0) cells[l] = new float[Options.Batch * hidden];
            foreach (var share in _shares)
            {
                var layer = share.Unrolled.Layers[l];
                layer.InitialHidden.CopyTo(hiddenStates[l].AsSpan(share.FirstStream * hidden));
                if (layer is Layers.Lstm<float> lstm) lstm.InitialCell.CopyTo(cells[l].AsSpan(share.FirstStream * hidden));
            }
        }
        return new TrainerState(Step, Epoch, Window, Optimizer.StepCount, (float[])Optimizer.FirstMoment.Clone(), (float[])Optimizer.SecondMoment.Clone(),
            hiddenStates, cells, _masks.GetState(), LearningRateScale);
    }

    /// <summary>Continues from a captured state (same data, options and model shapes; any thread count).</summary>
    public void Restore(TrainerState state)
    {
        int layers = Model.Config.Layers, size = Options.Batch * Model.Config.Hidden;
        int parameters = Model.Parameters.Length;
        if (state.FirstMoment.Length != parameters || state.SecondMoment.Length != parameters)
            throw new ArgumentException($"optimizer state holds {state.FirstMoment.Length} moments; the model has {parameters} parameters", nameof(state));
        if (state.Hidden.Length != layers || state.Hidden.Any(h => h.Length != size))
            throw new ArgumentException($"carried hidden state does not fit {layers} layers of batch {Options.Batch} x hidden {Model.Config.Hidden}", nameof(state));
        bool lstm = Model.Config.Cell == CellKind.Lstm;
        if (lstm && (state.Cell.Length != layers || state.Cell.Any(c => c.Length != size)))
            throw new ArgumentException("carried LSTM cell state is missing or has the wrong size", nameof(state));
        if (state.Window < 0 || state.Window >= WindowsPerEpoch || state.Step < 0 || state.Epoch < 0)
            throw new ArgumentException($"data position (epoch {state.Epoch}, window {state.Window}) is outside this corpus's {WindowsPerEpoch} windows per epoch", nameof(state));
        if (state.AdamStep < 0) throw new ArgumentException($"Adam's step count is {state.AdamStep}; expected 0 or more", nameof(state));
        if (!(state.LearningRateScale > 0 && float.IsFinite(state.LearningRateScale))) throw new ArgumentException($"learning-rate scale {state.LearningRateScale} is not a positive number", nameof(state));
        // The mask generator's state checks itself: set it first, so that a refused state leaves the trainer as it was.
        _masks.SetState(state.MaskRng);
        Step = state.Step; Epoch = state.Epoch; Window = state.Window;
        Optimizer.StepCount = state.AdamStep;
        state.FirstMoment.CopyTo(Optimizer.FirstMoment, 0);
        state.SecondMoment.CopyTo(Optimizer.SecondMoment, 0);
        LearningRateScale = state.LearningRateScale;
        int hidden = Model.Config.Hidden;
        for (int l = 0; l < layers; l++)
        {
            foreach (var share in _shares)
            {
                var layer = share.Unrolled.Layers[l];
                state.Hidden[l].AsSpan(share.FirstStream * hidden, share.Streams * hidden).CopyTo(layer.InitialHidden);
                if (layer is Layers.Lstm<float> cellLayer) state.Cell[l].AsSpan(share.FirstStream * hidden, share.Streams * hidden).CopyTo(cellLayer.InitialCell);
            }
        }
        Model.Pack();
    }

    private void RunShare(int index)
    {
        var share = _shares[index];
        var unrolled = share.Unrolled;
        if (Window == 0) unrolled.ResetState(); // a new epoch restarts every stream from zero state
        _batches.Fill(Window, share.Inputs, share.Targets, share.FirstStream, share.Streams);
        share.Loss = unrolled.ForwardLoss(share.Inputs, share.Targets, Options.Steps);
        unrolled.BackwardThroughTime(share.Targets, meanRows: Options.Batch * Options.Steps);
    }

    /// <summary>One thread's part of a step: its share through time, then gradient units until none is left.</summary>
    private void RunStep(int index)
    {
        try
        {
            RunShare(index);
            _units.ShareReady(index);
            while (_units.Next(index, out var unit))
            {
                var share = _shares[unit.Share];
                if (unit.First) ClearRows(unit.Group, unit.Part);
                share.Unrolled.AccumulateWeightGradients(unit.Group, share.Inputs, Gradients, unit.Part, _units.Parts);
                _units.Complete(unit);
            }
        }
        catch
        {
            _units.Fail(); // no other thread may wait for a unit that will never be ready
            throw;
        }
    }

    /// <summary>Zeroes rows WorkSplit.Range(rows, part, parts) of every tensor of a group (ParameterLayout.GroupTensors).</summary>
    private void ClearRows(int group, int part)
    {
        var (firstTensor, endTensor) = Model.Layout.GroupTensors(group);
        for (int i = firstTensor; i < endTensor; i++) // indexed: foreach over the interface would box an enumerator
        {
            var tensor = Model.Layout.Tensors[i];
            int rows = tensor.Shape[0], width = tensor.Length / rows;
            var (first, end) = WorkSplit.Range(rows, part, _units.Parts);
            Gradients.AsSpan(tensor.Offset + first * width, (end - first) * width).Clear();
        }
    }

    public void Dispose() => _pool?.Dispose();
}
