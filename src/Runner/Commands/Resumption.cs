// `train --resume FILE`: what the resumed run is. The checkpoint fixes the shapes and the data split (cell,
// layers, hidden, batch, seq, val-fraction, seed); a flag that contradicts them is refused, saying what
// differs. The learning rate and its schedule, clip, dropout, threads, the run's length and validation
// cadence may change: each change is reported. Everything not given on the command line comes from the
// checkpoint, so `train --resume FILE` alone continues the original run exactly.
using System.Globalization;
using CharRnn.Engine.IO;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public sealed record Resumption(string Path, LoadedCheckpoint Checkpoint, TrainSettings Settings, double Best, IReadOnlyList<string> Changes)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static Resumption Prepare(TrainSettings given)
    {
        string path = given.Resume!;
        if (given.InitFrom != null) throw new UserError("--resume and --init-from were both given", "--resume continues a run; --init-from starts a new one from a checkpoint's weights");
        var loaded = Inputs.Model(path, "--resume");
        if (!TrainingCheckpoint.Has(loaded))
            throw new UserError($"{path}: holds a model but no training state", "resume from a checkpoint written by charrnn train, or start a new run from these weights with --init-from");
        var meta = loaded.Metadata;
        string Meta(string key) => meta.TryGetValue(key, out var v) ? v
            : throw new UserError($"{path}: the training state lacks metadata '{key}'", "resume from a checkpoint written by this version of charrnn train");
        UserError Damaged(string key, string what) => new($"{path}: metadata '{key}' is not {what}", "the checkpoint is damaged; resume from another one");
        int Int(string key) => int.TryParse(Meta(key), NumberStyles.Integer, Invariant, out int v) ? v : throw Damaged(key, "an integer");
        // Sizes and rates read back are checked as the command line checks them: a damaged value must be refused
        // here, not divide by zero or train on NaN later.
        int Positive(string key) => Int(key) is int v && v > 0 ? v : throw Damaged(key, "a positive integer");
        float PositiveRate(string key) => Float(key) is float v && v > 0 && float.IsFinite(v) ? v : throw Damaged(key, "a positive number");
        float Fraction(string key) => Float(key) is float v && v >= 0 && v < 1 ? v : throw Damaged(key, "a number in [0, 1)");
        float Float(string key) => float.TryParse(Meta(key), NumberStyles.Float, Invariant, out float v) ? v : throw Damaged(key, "a number");
        double Double(string key) => double.TryParse(Meta(key), NumberStyles.Float, Invariant, out double v) ? v : throw Damaged(key, "a number");
        ulong Seed() => ulong.TryParse(Meta("train.seed"), NumberStyles.Integer, Invariant, out ulong v) ? v : throw Damaged("train.seed", "an integer");
        float? OptionalFloat(string key) => meta.TryGetValue(key, out var text) && text.Length > 0
            ? (float.TryParse(text, NumberStyles.Float, Invariant, out float v) ? v : throw Damaged(key, "a number")) : null;

        var config = loaded.Model.Config;
        var changes = new List<string>();
        var fixedValues = new (string Option, string Checkpoint, string Given)[]
        {
            ("--cell", config.ModuleName, given.Cell.ToLowerInvariant()),
            ("--layers", config.Layers.ToString(Invariant), given.Layers.ToString(Invariant)),
            ("--hidden", config.Hidden.ToString(Invariant), given.Hidden.ToString(Invariant)),
            ("--batch", Meta("train.batch"), given.Batch.ToString(Invariant)),
            ("--seq", Meta("train.seq"), given.Seq.ToString(Invariant)),
            ("--val-fraction", Double("train.val_fraction").ToString("R", Invariant), given.ValFraction.ToString("R", Invariant)),
            ("--seed", Meta("train.seed"), given.Seed.ToString(Invariant)),
        };
        foreach (var (option, inCheckpoint, asGiven) in fixedValues)
        {
            if (given.Given.Contains(option) && asGiven != inCheckpoint)
                throw new UserError($"{option} {asGiven} contradicts {path}, which was trained with {option} {inCheckpoint}", $"drop {option} to resume (a resumed run keeps its shapes and data split), or start a new run with --init-from");
        }

        T Pick<T>(string option, T fromCheckpoint, T asGiven, Func<T, string> show)
        {
            if (!given.Given.Contains(option)) return fromCheckpoint;
            if (!EqualityComparer<T>.Default.Equals(fromCheckpoint, asGiven)) changes.Add($"{option} {show(fromCheckpoint)} -> {show(asGiven)}");
            return asGiven;
        }
        string F(float v) => v.ToString("R", Invariant);
        long? checkpointSteps = meta.TryGetValue("train.total_steps", out var total) && long.TryParse(total, Invariant, out long t) ? t : null;
        float? checkpointLimit = OptionalFloat("train.time_limit_s") is float stored
            ? (stored > 0 && stored <= Inputs.MaxDurationSeconds ? stored : throw Damaged("train.time_limit_s", "a positive number of seconds")) : null;
        // The run's length: --steps or --epochs replace the step bound, --time-limit the time bound (a fresh
        // budget for this invocation); whatever is not given stays as the checkpoint had it.
        bool stepsGiven = given.Given.Contains("--steps"), epochsGiven = given.Given.Contains("--epochs");
        long? steps = stepsGiven ? given.Steps : epochsGiven ? null : checkpointSteps;
        if (stepsGiven && given.Steps != checkpointSteps) changes.Add($"--steps {checkpointSteps?.ToString(Invariant) ?? "unbounded"} -> {given.Steps}");
        if (epochsGiven) changes.Add($"--epochs {given.Epochs} (was {checkpointSteps?.ToString(Invariant) ?? "unbounded"} steps)");
        TimeSpan? limit = given.Given.Contains("--time-limit") ? given.TimeLimit : checkpointLimit is float seconds ? TimeSpan.FromSeconds(seconds) : null;
        if (given.Given.Contains("--time-limit") && given.TimeLimit?.TotalSeconds != checkpointLimit)
            changes.Add($"--time-limit {(checkpointLimit is float old ? $"{old}s" : "none")} -> {given.TimeLimit?.TotalSeconds}s");
        // A new --lr without --lr-min decays to a tenth of the new rate, not to the old floor.
        float? lrMin = given.Given.Contains("--lr-min") ? given.LearningRateMin : given.Given.Contains("--lr") ? null : OptionalFloat("train.lr_min");
        string checkpointOut = System.IO.Path.GetFileName(path).EndsWith(".last.safetensors", StringComparison.Ordinal)
            ? path[..^".last.safetensors".Length] + ".safetensors" : path;
        string? recordedCorpus = Meta("corpus") == Inputs.DefaultCorpusName ? null : Meta("corpus");
        if (given.Corpus == null && recordedCorpus != null && !File.Exists(recordedCorpus))
            throw new UserError($"{path} trained on {recordedCorpus}, which is no longer there", "give --corpus with the text's new location (the same alphabet)");
        var settings = given with
        {
            Corpus = given.Corpus ?? recordedCorpus,
            Out = given.Given.Contains("--out") ? given.Out : checkpointOut,
            SampleLength = given.Given.Contains("--sample-length") ? given.SampleLength : meta.TryGetValue("train.sample_length", out var sl) && int.TryParse(sl, Invariant, out int n) ? n : given.SampleLength,
            ForgetBias = OptionalFloat("train.forget_bias") ?? 0f,
            Epochs = epochsGiven ? given.Epochs : null,
            TimeLimit = limit,
            Cell = config.ModuleName,
            Layers = config.Layers,
            Hidden = config.Hidden,
            Batch = Positive("train.batch"),
            Seq = Positive("train.seq"),
            ValFraction = Double("train.val_fraction") is double vf && vf >= 0 && vf < 1 ? vf : throw Damaged("train.val_fraction", "a number in [0, 1)"),
            Seed = Seed(),
            LearningRate = Pick("--lr", PositiveRate("train.lr"), given.LearningRate, F),
            LearningRateMin = lrMin,
            Schedule = Pick("--lr-schedule", Meta("train.lr_schedule"), given.Schedule, v => v ?? "default"),
            Clip = Pick("--clip", PositiveRate("train.clip"), given.Clip, F),
            Dropout = Pick("--dropout", Fraction("train.dropout"), given.Dropout, F),
            RecurrentDropout = Pick("--recurrent-dropout", Fraction("train.recurrent_dropout"), given.RecurrentDropout, F),
            Threads = Pick("--threads", Positive("train.threads"), given.Threads, v => v.ToString(Invariant)),
            Steps = steps,
            ValEvery = given.Given.Contains("--val-every") ? given.ValEvery
                : meta.TryGetValue("train.val_every", out var every) && int.TryParse(every, Invariant, out int e) ? (e > 0 ? e : throw Damaged("train.val_every", "a positive integer")) : null,
        };
        double best = meta.TryGetValue("train.best_val", out var b) && double.TryParse(b, NumberStyles.Float, Invariant, out double bv) ? bv : double.PositiveInfinity;
        return new Resumption(path, loaded, settings, best, changes);
    }
}
