// Loading what the user points the runner at, translating every engine failure into a UserError with a hint.
using System.Reflection;
using CharRnn.Engine.IO;
using CharRnn.Engine.Sampling;

namespace CharRnn.Runner.Cli;

public static class Inputs
{
    public const string DefaultCorpusName = "alice (built in: Alice's Adventures in Wonderland, Lewis Carroll, public domain)";

    /// <summary>The corpus at path, or the embedded Alice text when path is null.</summary>
    public static (string Text, string Name) Corpus(string? path)
    {
        if (path == null)
        {
            using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("CharRnn.Runner.alice.txt")
                ?? throw new InvalidOperationException("the embedded Alice corpus is missing from this build");
            using var reader = new StreamReader(stream, System.Text.Encoding.UTF8);
            return (reader.ReadToEnd(), DefaultCorpusName);
        }
        return (Text(path, "--corpus"), path);
    }

    public static string Text(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{option} needs a file name, got '{path}'", $"give {option} the path of a UTF-8 text file");
        try { return TextCorpus.ReadFile(path); }
        catch (FileNotFoundException) { throw new UserError($"{path}: no such file", $"check the path given to {option}"); }
        catch (InvalidDataException e) { throw new UserError(e.Message, $"{option} needs a UTF-8 text file with at least a few characters"); }
    }

    public static LoadedCheckpoint Model(string path, string option = "--model")
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{option} needs a file name, got '{path}'", $"give {option} the path of a checkpoint that 'charrnn train' wrote");
        try { return Checkpoint.Load(path); }
        catch (FileNotFoundException) { throw new UserError($"{path}: no such file", $"check the path given to {option}; 'charrnn train' writes checkpoints"); }
        catch (InvalidDataException e) { throw new UserError(e.Message, $"{option} needs a safetensors checkpoint written by 'charrnn train' or in the same layout by PyTorch"); }
    }

    /// <summary>The directory of an output path must exist and be writable before hours of training start.</summary>
    public static string OutputPath(string path, string option)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new UserError($"{option} needs a file name, got '{path}'", $"give {option} the path of the file to write");
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        if (Directory.Exists(full)) throw new UserError($"{path}: is a directory", $"give {option} a file name, e.g. {Path.Combine(path, "model.safetensors")}");
        if (directory == null || !Directory.Exists(directory)) throw new UserError($"{path}: directory '{directory}' does not exist", $"create it first (mkdir -p {directory}) or choose another {option}");
        string probe = Path.Combine(directory, $".charrnn-write-test-{Environment.ProcessId}");
        try { File.WriteAllBytes(probe, []); File.Delete(probe); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new UserError($"{path}: cannot write to '{directory}' ({e.Message})", $"choose a writable location for {option}"); }
        return full;
    }

    /// <summary>
    /// Refuses, before anything is allocated, a buffer of more elements than one .NET array holds: "{what} make
    /// {count} {noun}, more than one array holds (...)". A count capped at long.MaxValue reads "over 9.2e18".
    /// </summary>
    public static void FitsOneArray(long count, string what, string noun, string hint)
    {
        if (count <= Array.MaxLength) return;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        string shown = count == long.MaxValue ? "over 9.2e18" : count.ToString("N0", invariant);
        throw new UserError($"{what} make {shown} {noun}, more than one array holds ({Array.MaxLength.ToString("N0", invariant)})", hint);
    }

    /// <summary>A count that must be at least 1; the hint shows a sensible value (the option's default where it has one).</summary>
    public static int Positive(int value, string option, int example) =>
        value > 0 ? value : throw new UserError($"{option} must be a positive integer, got {value}", $"e.g. {option} {example}");

    /// <summary>A drop probability in [0, 1): 1 would silence everything and leave nothing to scale.</summary>
    public static float Probability(float value, string option) =>
        value >= 0 && value < 1 ? value : throw new UserError($"{option} must be in [0, 1), got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"e.g. {option} 0.25 drops a quarter of the units while training");

    /// <summary>Threads: 0 or absent means every core; more than the cores is allowed but never faster.</summary>
    public static int Threads(int? value) => value switch
    {
        null or 0 => Environment.ProcessorCount,
        > 0 and <= 256 => value.Value,
        _ => throw new UserError($"--threads must be between 1 and 256 (0: all cores), got {value}", $"e.g. --threads {Environment.ProcessorCount}"),
    };

    /// <summary>--weights: f32 (as trained), bf16 (every weight matrix rounded to bfloat16) or int8 (8-bit, a scale per unit).</summary>
    public static WeightFormat Weights(string? value) => value?.ToLowerInvariant() switch
    {
        null or "f32" => WeightFormat.Float32,
        "bf16" => WeightFormat.BFloat16,
        "int8" => WeightFormat.Int8,
        _ => throw new UserError($"--weights must be f32, bf16 or int8, got '{value}'", "bf16 halves and int8 quarters the bytes each generated character reads; f32 keeps the weights as trained"),
    };

    /// <summary>How a format is named on the command line.</summary>
    public static string Name(WeightFormat format) => format switch
    {
        WeightFormat.BFloat16 => "bf16",
        WeightFormat.Int8 => "int8",
        _ => "f32",
    };

    /// <summary>The longest duration accepted (~3,171 years): far past any run, far below TimeSpan's limit.</summary>
    public const double MaxDurationSeconds = 1e11;

    /// <summary>A duration such as 90s, 10m or 1.5h.</summary>
    public static TimeSpan Duration(string text, string option)
    {
        const string Hint = "give a number with a unit: s, m or h, e.g. 10m";
        string trimmed = text.Trim();
        if (trimmed.Length < 2) throw new UserError($"{option} '{text}' is not a duration", Hint);
        double scale = char.ToLowerInvariant(trimmed[^1]) switch { 's' => 1, 'm' => 60, 'h' => 3600, _ => double.NaN };
        if (double.IsNaN(scale) || !double.TryParse(trimmed[..^1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double amount))
            throw new UserError($"{option} '{text}' is not a duration", Hint);
        if (!(amount > 0)) throw new UserError($"{option} must be positive, got '{text}'", Hint);
        if (amount * scale > MaxDurationSeconds) throw new UserError($"{option} '{text}' is too long (over 3,000 years)", Hint);
        return TimeSpan.FromSeconds(amount * scale);
    }

    /// <summary>A positive finite number; the hint shows a sensible value (the option's default).</summary>
    public static float PositiveFinite(float value, string option, float example) => value > 0 && float.IsFinite(value)
        ? value
        : throw new UserError($"{option} must be a positive number, got {value.ToString(System.Globalization.CultureInfo.InvariantCulture)}", $"e.g. {option} {example.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
}
