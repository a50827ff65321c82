// Everything `charrnn train` was asked to do, validated, with the defaults in one place. The defaults are the
// best of the 10-minute quality runs on the built-in Alice on a 2-core machine (README: "Quality on Alice"):
// a 2x256 LSTM with dropout 0.25 between layers and 0.1 on the recurrent connection, Adam at 3e-3 decayed
// by a cosine to 3e-4 over 52 epochs.
namespace CharRnn.Runner.Commands;

public sealed record TrainSettings
{
    public static readonly TrainSettings Defaults = new();

    public const int DefaultEpochs = 52;

    public string? Corpus { get; init; }
    public string Cell { get; init; } = "lstm";
    public int Layers { get; init; } = 2;
    public int Hidden { get; init; } = 256;
    public int Seq { get; init; } = 64;
    public int Batch { get; init; } = 32;
    public float LearningRate { get; init; } = 3e-3f;
    public float Clip { get; init; } = 5f;

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
    public float Dropout { get; init; } = 0.25f;
    public float RecurrentDropout { get; init; } = 0.1f;
    public float ForgetBias { get; init; }
    public int Threads { get; init; } = Environment.ProcessorCount;
    public TimeSpan? TimeLimit { get; init; }

    /// <summary>constant or cosine; null: cosine when the run's steps are known, constant for a time limit alone.</summary>
    public string? Schedule { get; init; }
    public float? LearningRateMin { get; init; }

    /// <summary>A checkpoint written by train to continue from exactly (its weights, optimizer, data position).</summary>
    public string? Resume { get; init; }

    /// <summary>The options the user gave on the command line (the rest are defaults, or the checkpoint's on resume).</summary>
    public IReadOnlySet<string> Given { get; init; } = new HashSet<string>();
}
