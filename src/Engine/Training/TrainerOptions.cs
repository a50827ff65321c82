// Hyper-parameters of one training run. Shapes of the model live in ModelConfig; these are how it learns.
using CharRnn.Engine.Regularization;

namespace CharRnn.Engine.Training;

public sealed record TrainerOptions
{
    public int Batch { get; init; } = 32;
    public int Steps { get; init; } = 100;
    public float LearningRate { get; init; } = 2e-3f;
    public float ClipNorm { get; init; } = 5f;
    public ulong Seed { get; init; } = 1;
    public Dropout Dropout { get; init; } = Dropout.None;

    /// <summary>The learning rate per step; null: LearningRate throughout.</summary>
    public LearningRateSchedule? Schedule { get; init; }

    /// <summary>Threads a step runs on: the batch's streams are split into this many shares (data parallel), at most Batch.</summary>
    public int Threads { get; init; } = 1;

    public TrainerOptions Validated()
    {
        if (Batch < 1) throw new ArgumentOutOfRangeException(nameof(Batch), Batch, "batch must be at least 1");
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, "steps (sequence length) must be at least 1");
        if (!(LearningRate > 0) || !float.IsFinite(LearningRate)) throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "learning rate must be a positive finite number");
        if (!(ClipNorm > 0) || !float.IsFinite(ClipNorm)) throw new ArgumentOutOfRangeException(nameof(ClipNorm), ClipNorm, "clip norm must be a positive finite number");
        Dropout.Validated();
        if (Schedule is LearningRateSchedule schedule
            && !(schedule.Base > 0 && float.IsFinite(schedule.Base) && schedule.Minimum >= 0 && schedule.Minimum <= schedule.Base && schedule.TotalSteps >= 1))
            throw new ArgumentOutOfRangeException(nameof(Schedule), schedule, "a schedule needs a positive finite base rate, a minimum from 0 to the base and at least 1 step");
        if (Threads < 1) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "threads must be at least 1");
        if (Threads > Batch) throw new ArgumentOutOfRangeException(nameof(Threads), Threads, $"threads must be at most the batch ({Batch}): each thread takes whole streams");
        return this;
    }
}
