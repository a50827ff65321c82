// charrnn train: the product's main loop. Reads a corpus (the built-in Alice by default), splits off the last
// --val-fraction for validation, trains with truncated BPTT, prints progress to standard error, validates
// every --val-every steps with a short sample, keeps the best checkpoint by held-out loss, and logs one JSON
// object per optimizer step.
using System.CommandLine;
using CharRnn.Engine.Model;
using CharRnn.Engine.Training;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public static class TrainCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var corpus = new Option<string?>("--corpus") { Description = "UTF-8 text to train on (default: the built-in Alice in Wonderland)" };
        var cell = new Option<string>("--cell") { Description = "recurrent cell: lstm, gru or rnn", DefaultValueFactory = _ => TrainSettings.Defaults.Cell };
        var layers = new Option<int>("--layers") { Description = "stacked recurrent layers", DefaultValueFactory = _ => TrainSettings.Defaults.Layers };
        var hidden = new Option<int>("--hidden") { Description = "units per layer (H)", DefaultValueFactory = _ => TrainSettings.Defaults.Hidden };
        var seq = new Option<int>("--seq") { Description = "BPTT window: characters per stream per step (T)", DefaultValueFactory = _ => TrainSettings.Defaults.Seq };
        var batch = new Option<int>("--batch") { Description = "parallel streams per step (B)", DefaultValueFactory = _ => TrainSettings.Defaults.Batch };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => TrainSettings.Defaults.LearningRate };
        var clip = new Option<float>("--clip") { Description = "clip gradients to this global L2 norm", DefaultValueFactory = _ => TrainSettings.Defaults.Clip };
        var epochs = new Option<int?>("--epochs") { Description = $"passes over the training text (default {TrainSettings.DefaultEpochs} unless --steps or --time-limit is given)" };
        var steps = new Option<long?>("--steps") { Description = "optimizer steps to run (overrides --epochs)" };
        var valFraction = new Option<double>("--val-fraction") { Description = "last fraction of the corpus held out for validation, in [0, 1)", DefaultValueFactory = _ => TrainSettings.Defaults.ValFraction };
        var valEvery = new Option<int?>("--val-every") { Description = "validate every N steps (default: about 10 times per run)" };
        var seed = new Option<ulong>("--seed") { Description = "seed for initialisation and samples; same seed, same run", DefaultValueFactory = _ => TrainSettings.Defaults.Seed };
        var outPath = new Option<string>("--out") { Description = "best checkpoint by held-out loss (.safetensors)", DefaultValueFactory = _ => TrainSettings.Defaults.Out };
        var initFrom = new Option<string?>("--init-from") { Description = "start from this checkpoint's weights (its cell, layers and hidden size)" };
        var log = new Option<string?>("--log") { Description = "JSONL metrics log, one object per step (default: <out>.metrics.jsonl)" };
        var sampleLength = new Option<int>("--sample-length") { Description = "characters to sample at each validation (0: none)", DefaultValueFactory = _ => 200 };
        var dropout = new Option<float>("--dropout") { Description = "drop probability on each recurrent layer's output while training, in [0, 1)", DefaultValueFactory = _ => TrainSettings.Defaults.Dropout };
        var recurrentDropout = new Option<float>("--recurrent-dropout") { Description = "variational drop probability on h(t-1) into the recurrent product (one mask per window), in [0, 1)", DefaultValueFactory = _ => TrainSettings.Defaults.RecurrentDropout };
        var forgetBias = new Option<float>("--forget-bias") { Description = "initial LSTM forget-gate bias (PyTorch: 0; torch-rnn and Keras: 1)", DefaultValueFactory = _ => TrainSettings.Defaults.ForgetBias };
        var threads = new Option<int?>("--threads") { Description = "threads per training step (default: all cores); same seed and threads, same run" };
        var timeLimit = new Option<string?>("--time-limit") { Description = "stop after this much wall time, e.g. 10m (validates and saves at the end)" };
        var schedule = new Option<string?>("--lr-schedule") { Description = "constant, or cosine: decay from --lr to --lr-min over the run's steps (default: cosine; constant with --time-limit alone)" };
        var lrMin = new Option<float?>("--lr-min") { Description = "final learning rate of the cosine schedule (default: --lr / 10)" };
        var resume = new Option<string?>("--resume") { Description = "continue a run exactly from a checkpoint train wrote (<out> or <out>.last.safetensors); --lr, --steps, --epochs, --val-every and the like may change" };
        var command = new Command("train", "Train a character-level language model.")
        {
            corpus, cell, layers, hidden, seq, batch, lr, clip, epochs, steps, valFraction, valEvery, seed, outPath, initFrom, log, sampleLength,
            dropout, recurrentDropout, forgetBias, threads, timeLimit, schedule, lrMin, resume,
        };
        command.SetAction(parse =>
        {
            var settings = new TrainSettings
            {
                Corpus = parse.GetValue(corpus),
                Cell = parse.GetValue(cell)!,
                Layers = Inputs.Positive(parse.GetValue(layers), "--layers", TrainSettings.Defaults.Layers),
                Hidden = Inputs.Positive(parse.GetValue(hidden), "--hidden", TrainSettings.Defaults.Hidden),
                Seq = Inputs.Positive(parse.GetValue(seq), "--seq", TrainSettings.Defaults.Seq),
                Batch = Inputs.Positive(parse.GetValue(batch), "--batch", TrainSettings.Defaults.Batch),
                LearningRate = Inputs.PositiveFinite(parse.GetValue(lr), "--lr", TrainSettings.Defaults.LearningRate),
                Clip = Inputs.PositiveFinite(parse.GetValue(clip), "--clip", TrainSettings.Defaults.Clip),
                Epochs = parse.GetValue(epochs) is int e ? Inputs.Positive(e, "--epochs", TrainSettings.DefaultEpochs) : null,
                Steps = parse.GetValue(steps) is long s ? (s > 0 ? s : throw new UserError($"--steps must be a positive integer, got {s}", "e.g. --steps 2000")) : null,
                ValFraction = parse.GetValue(valFraction),
                ValEvery = parse.GetValue(valEvery) is int v ? Inputs.Positive(v, "--val-every", 500) : null,
                Seed = parse.GetValue(seed),
                Out = parse.GetValue(outPath)!,
                InitFrom = parse.GetValue(initFrom),
                Log = parse.GetValue(log),
                SampleLength = Math.Max(0, parse.GetValue(sampleLength)),
                Dropout = Inputs.Probability(parse.GetValue(dropout), "--dropout"),
                RecurrentDropout = Inputs.Probability(parse.GetValue(recurrentDropout), "--recurrent-dropout"),
                ForgetBias = float.IsFinite(parse.GetValue(forgetBias)) ? parse.GetValue(forgetBias) : throw new UserError("--forget-bias must be a finite number", "e.g. --forget-bias 1"),
                Threads = Inputs.Threads(parse.GetValue(threads)),
                TimeLimit = parse.GetValue(timeLimit) is string limit ? Inputs.Duration(limit, "--time-limit") : null,
                Schedule = parse.GetValue(schedule),
                Resume = parse.GetValue(resume),
                Given = command.Options.Where(o => parse.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToHashSet(),
                LearningRateMin = parse.GetValue(lrMin) is float m ? (m >= 0 && float.IsFinite(m) ? m : throw new UserError($"--lr-min must be a non-negative number, got {m}", "e.g. --lr-min 0.0002")) : null,
            };
            return new TrainingRun(settings, output, error).Run();
        });
        return command;
    }
}
