// One optimizer step at a time over the training windows: forward, loss, backward, clip, Adam, repack, and
// carry the hidden state into the next window (reset at each epoch start). Allocates nothing once built.
// Deliberately not here: validation scheduling, checkpoints and printing (the runner owns the loop's policy).
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Training;

public readonly record struct StepResult(long Step, int Epoch, double Loss, double GradientNorm, bool Applied);

public sealed class Trainer
{
    private readonly CorpusBatches _batches;
    private readonly UnrolledModel<float> _unrolled;
    private readonly int[] _inputs;  // (T*B) time-major window inputs
    private readonly int[] _targets; // (T*B) the characters that follow them

    public Trainer(CharModel<float> model, int[] trainTokens, TrainerOptions options)
    {
        Options = options.Validated();
        Model = model;
        _batches = new CorpusBatches(trainTokens, options.Batch, options.Steps);
        _unrolled = new UnrolledModel<float>(model, options.Batch, options.Steps);
        Gradients = new float[model.Parameters.Length];
        Optimizer = new Adam(model.Parameters.Length, options.LearningRate);
        _inputs = new int[options.Batch * options.Steps];
        _targets = new int[options.Batch * options.Steps];
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
    public UnrolledModel<float> Unrolled => _unrolled;

    public StepResult TrainStep()
    {
        if (Window == 0) _unrolled.ResetState(); // a new epoch restarts every stream from zero state
        _batches.Fill(Window, _inputs, _targets);
        double loss = _unrolled.ForwardLoss(_inputs, _targets, Options.Steps);
        Array.Clear(Gradients);
        _unrolled.Backward(_inputs, _targets, Gradients);
        double norm = GradientClipping.ClipByGlobalNorm(Gradients, Options.ClipNorm);
        bool finite = double.IsFinite(loss) && double.IsFinite(norm);
        if (finite)
        {
            Optimizer.Step(Model.Parameters, Gradients);
            Model.Pack();
        }
        _unrolled.CarryState();
        Step++;
        int epoch = Epoch;
        if (++Window == _batches.WindowsPerEpoch)
        {
            Window = 0;
            Epoch++;
        }
        return new StepResult(Step, epoch, loss, norm, finite);
    }
}
