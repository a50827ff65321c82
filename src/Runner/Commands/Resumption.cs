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
        int Int(string key) => int.TryParse(Meta(key), NumberStyles.Integer, Invariant, out int v) ? v : throw new UserError($"{path}: metadata '{key}' is not an integer", "the checkpoint is damaged; resume from another one");
        float Float(string key) => float.TryParse(Meta(key), NumberStyles.Float, Invariant, out float v) ? v : throw new UserError($"{path}: metadata '{key}' is not a number", "the checkpoint is damaged; resume from another one");

        var config = loaded.Model.Config;
        var fixedValues = new (string Option, string Checkpoint, string Given)[]
        {
            ("--cell", config.ModuleName, given.Cell.ToLowerInvariant()),
            ("--layers", config.Layers.ToString(Invariant), given.Layers.ToString(Invariant)),
            ("--hidden", config.Hidden.ToString(Invariant), given.Hidden.ToString(Invariant)),
            ("--batch", Meta("train.batch"), given.Batch.ToString(Invariant)),
            ("--seq", Meta("train.seq"), given.Seq.ToString(Invariant)),
            ("--val-fraction", double.Parse(Meta("train.val_fraction"), Invariant).ToString("R", Invariant), given.ValFraction.ToString("R", Invariant)),
            ("--seed", Meta("train.seed"), given.Seed.ToString(Invariant)),
        };
        foreach (var (option, inCheckpoint, asGiven) in fixedValues)
        {
            if (given.Given.Contains(option) && asGiven != inCheckpoint)
                throw new UserError($"{option} {asGiven} contradicts {path}, which was trained with {option} {inCheckpoint}", $"drop {option} to resume (a resumed run keeps its shapes and data split), or start a new run with --init-from");
        }

        var changes = new List<string>();
        T Pick<T>(string option, T fromCheckpoint, T asGiven, Func<T, string> show)
        {
            if (!given.Given.Contains(option)) return fromCheckpoint;
            if (!EqualityComparer<T>.Default.Equals(fromCheckpoint, asGiven)) changes.Add($"{option} {show(fromCheckpoint)} -> {show(asGiven)}");
            return asGiven;
        }
        string F(float v) => v.ToString("R", Invariant);
        long? checkpointSteps = meta.TryGetValue("train.total_steps", out var total) && long.TryParse(total, Invariant, out long t) ? t : null;
        bool lengthGiven = given.Given.Contains("--steps") || given.Given.Contains("--epochs") || given.Given.Contains("--time-limit");
        var settings = given with
        {
            Corpus = given.Corpus ?? (Meta("corpus") == Inputs.DefaultCorpusName ? null : Meta("corpus")),
            Cell = config.ModuleName,
            Layers = config.Layers,
            Hidden = config.Hidden,
            Batch = Int("train.batch"),
            Seq = Int("train.seq"),
            ValFraction = double.Parse(Meta("train.val_fraction"), Invariant),
            Seed = ulong.Parse(Meta("train.seed"), Invariant),
            LearningRate = Pick("--lr", Float("train.lr"), given.LearningRate, F),
            LearningRateMin = Pick<float?>("--lr-min", meta.TryGetValue("train.lr_min", out var min) ? float.Parse(min, Invariant) : null, given.LearningRateMin, v => v is float f ? F(f) : "default"),
            Schedule = Pick("--lr-schedule", Meta("train.lr_schedule"), given.Schedule, v => v ?? "default"),
            Clip = Pick("--clip", Float("train.clip"), given.Clip, F),
            Dropout = Pick("--dropout", Float("train.dropout"), given.Dropout, F),
            RecurrentDropout = Pick("--recurrent-dropout", Float("train.recurrent_dropout"), given.RecurrentDropout, F),
            Threads = Pick("--threads", Int("train.threads"), given.Threads, v => v.ToString(Invariant)),
            Steps = lengthGiven ? given.Steps : checkpointSteps,
            ValEvery = given.Given.Contains("--val-every") ? given.ValEvery
                : meta.TryGetValue("train.val_every", out var every) && int.TryParse(every, Invariant, out int e) ? e : null,
        };
        if (lengthGiven && given.Steps is long steps && steps != checkpointSteps) changes.Add($"--steps {checkpointSteps?.ToString(Invariant) ?? "unbounded"} -> {steps}");
        double best = meta.TryGetValue("train.best_val", out var b) && double.TryParse(b, NumberStyles.Float, Invariant, out double bv) ? bv : double.PositiveInfinity;
        return new Resumption(path, loaded, settings, best, changes);
    }
}
