// Everything `charrnn train` was asked to do, validated, with the defaults in one place. The defaults are
// sized for a 2-core machine: about 10 minutes on the built-in Alice (README states the measured figures).
namespace CharRnn.Runner.Commands;

public sealed record TrainSettings
{
    public static readonly TrainSettings Defaults = new();

    public string? Corpus { get; init; }
    public string Cell { get; init; } = "lstm";
    public int Layers { get; init; } = 2;
    public int Hidden { get; init; } = 256;
    public int Seq { get; init; } = 64;
    public int Batch { get; init; } = 32;
    public float LearningRate { get; init; } = 2e-3f;
    public float Clip { get; init; } = 5f;
    public const int DefaultEpochs = 27;

    /// <summary>Passes over the training text; null: DefaultEpochs, or unbounded when only a time limit is given.</summary>
    public int? Epochs { get; init; }
    public long? Steps { get; init; }
    public double ValFraction { get; init; } = 0.1;
    public int? ValEvery { get; init; }
    public ulong Seed { get; init; } = 1;
    public string Out { get; init; } = "alice.safetensors";
    public string? InitFrom { get; init; }
    public string? Log { get; init; }
    public int SampleLength { get; init; } = 200;
    public float Dropout { get; init; }
    public float RecurrentDropout { get; init; }
    public float ForgetBias { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public TimeSpan? TimeLimit { get; init; }
    public string Schedule { get; init; } = "constant";
    public float? LearningRateMin { get; init; }
}
