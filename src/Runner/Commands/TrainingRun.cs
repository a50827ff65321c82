// One `charrnn train` run: corpus, split, model, then the step loop with progress, validation, samples, the
// best checkpoint and the metrics log. The engine's Trainer does the numerics; this owns the policy.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Regularization;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;
using CharRnn.Runner.Cli;
using CharRnn.Runner.Plots;

namespace CharRnn.Runner.Commands;

public sealed class TrainingRun(TrainSettings settings, TextWriter output, TextWriter error)
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private volatile int _signal; // set by SIGINT (2) or SIGTERM (15): finish the step, save, exit 128+signal

    public int Run()
    {
        Resumption? resumption = settings.Resume != null ? Resumption.Prepare(settings) : null;
        if (resumption != null) settings = resumption.Settings;
        if (!(settings.ValFraction >= 0 && settings.ValFraction < 1)) throw new UserError($"--val-fraction must be in [0, 1), got {settings.ValFraction.ToString(Invariant)}", "e.g. --val-fraction 0.1 holds out the last 10%");
        CellKind cellKind;
        try { cellKind = ModelConfig.ParseCell(settings.Cell); }
        catch (ArgumentException) { throw new UserError($"--cell '{settings.Cell}' is not a known cell", "use lstm, gru or rnn"); }
        string outPath = Inputs.OutputPath(settings.Out, "--out");
        string logPath = Inputs.OutputPath(settings.Log ?? outPath + ".metrics.jsonl", "--log");
        // A corpus of StreamFromBytes or more is never held as text: it is tokenised to a file beside the
        // output and read a window at a time (StreamedCorpus); smaller ones are simply read into memory.
        using var streamed = Streamed(settings.Corpus, outPath);
        var (text, corpusName) = streamed == null ? Inputs.Corpus(settings.Corpus) : ("", settings.Corpus!);
        if (settings.Corpus != null) corpusName = Path.GetFullPath(settings.Corpus); // recorded so --resume finds it from anywhere

        var vocabulary = streamed?.Vocabulary ?? Vocabulary.FromText(text);
        int[] tokens = streamed == null ? vocabulary.Encode(text) : [];
        long totalLength = streamed?.Length ?? tokens.Length;
        long trainLength = (long)Math.Floor(totalLength * (1 - settings.ValFraction));
        int[] train = streamed == null ? tokens[..(int)trainLength] : [];
        // A streamed corpus validates on the first StreamedValidationChars of its held-out part, not all of it.
        int[] validation = streamed == null ? tokens[(int)trainLength..] : streamed.ReadTokens(trainLength, (int)Math.Min(totalLength - trainLength, StreamedValidationChars));
        if (settings.ValFraction > 0 && validation.Length < 2)
            throw new UserError($"the validation split holds {validation.Length} characters of {totalLength}", "use a longer corpus or a larger --val-fraction (or 0 to skip validation)");
        long needed = CorpusBatches.MinimumCharacters(settings.Batch, settings.Seq);
        if (trainLength < needed)
            throw new UserError($"{corpusName}: {trainLength} training characters is too few for one window of --batch {settings.Batch} x --seq {settings.Seq} (needs at least {needed})",
                "use a smaller --batch or --seq, or a longer corpus");

        if (resumption != null)
        {
            var saved = resumption.Checkpoint.Vocabulary;
            if (!saved.SameAs(vocabulary))
            {
                string onlyCorpus = string.Concat(vocabulary.Symbols.Except(saved.Symbols)), onlyCheckpoint = string.Concat(saved.Symbols.Except(vocabulary.Symbols));
                throw new UserError($"{corpusName}: its vocabulary differs from {resumption.Path}'s (only in the corpus: '{onlyCorpus}'; only in the checkpoint: '{onlyCheckpoint}')",
                    "resume with the corpus the run started on (--corpus), or start a new run");
            }
        }
        CheckSizes(resumption?.Checkpoint.Model.Config ?? new ModelConfig(cellKind, vocabulary.Count, settings.Hidden, settings.Layers));
        CharModel<float> model = resumption?.Checkpoint.Model ?? CreateModel(cellKind, vocabulary);
        int threads = Math.Min(settings.Threads, settings.Batch);
        // The run ends at a step count (--steps, --epochs or the default epochs) or at --time-limit, whichever
        // comes first; a time limit alone runs until it expires.
        ITrainingWindows windows = streamed?.Windows(trainLength, settings.Batch, settings.Seq) ?? new CorpusBatches(train, settings.Batch, settings.Seq);
        long windowsPerEpoch = windows.WindowsPerEpoch;
        long? epochs = settings.Epochs ?? (settings.TimeLimit == null ? TrainSettings.DefaultEpochs : null);
        long totalSteps = settings.Steps ?? (epochs is long e ? e * windowsPerEpoch : long.MaxValue);
        bool bounded = totalSteps != long.MaxValue;
        string scheduleName = settings.Schedule ?? (bounded ? "cosine" : "constant");
        ScheduleKind scheduleKind;
        try { scheduleKind = LearningRateSchedule.ParseKind(scheduleName); }
        catch (ArgumentException) { throw new UserError($"--lr-schedule '{scheduleName}' is not a known schedule", "use constant or cosine"); }
        if (scheduleKind == ScheduleKind.Cosine && !bounded)
            throw new UserError("--lr-schedule cosine needs a known number of steps", "add --steps or --epochs (with --time-limit as a safety stop if you like)");
        float lrMin = settings.LearningRateMin ?? settings.LearningRate / 10;
        if (scheduleKind == ScheduleKind.Cosine && lrMin > settings.LearningRate)
            throw new UserError($"--lr-min {lrMin.ToString(Invariant)} is above --lr {settings.LearningRate.ToString(Invariant)}", "the cosine schedule decays from --lr down to --lr-min; give a smaller --lr-min");
        var lrSchedule = scheduleKind == ScheduleKind.Cosine ? new LearningRateSchedule(ScheduleKind.Cosine, settings.LearningRate, lrMin, totalSteps) : LearningRateSchedule.Constant(settings.LearningRate);
        using var trainer = new Trainer(model, windows, new TrainerOptions
        {
            Batch = settings.Batch, Steps = settings.Seq, LearningRate = settings.LearningRate, ClipNorm = settings.Clip, Seed = settings.Seed,
            Dropout = new Dropout(settings.Dropout, settings.RecurrentDropout), Threads = threads, Schedule = lrSchedule,
        });
        long firstStep = 0;
        if (resumption != null)
        {
            try { trainer.Restore(TrainingCheckpoint.Read(resumption.Checkpoint, settings.Batch, resumption.Path)); }
            catch (Exception failure) when (failure is InvalidDataException or ArgumentException) { throw new UserError(failure.Message, "the training state is damaged or from another corpus; resume from another checkpoint"); }
            firstStep = trainer.Step;
            if (firstStep >= totalSteps) throw new UserError($"{resumption.Path} is already at step {firstStep} of {totalSteps}", "give a larger --steps or --epochs to train further");
        }
        double timeLimit = settings.TimeLimit?.TotalSeconds ?? double.PositiveInfinity;
        // Validation about ten times a run: by steps when the step count is known, else by time.
        long valEvery = settings.ValEvery ?? (bounded ? Math.Max(1, totalSteps / 10) : long.MaxValue);
        double valInterval = settings.ValEvery == null && !bounded ? timeLimit / 10 : double.PositiveInfinity;
        double nextTimedValidation = valInterval;
        var evaluator = validation.Length >= 2 ? new Evaluator(model) : null;
        var config = model.Config;
        string corpusHash = streamed?.Sha256 ?? Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));

        error.WriteLine($"corpus  {corpusName}: {totalLength:N0} chars, vocabulary {vocabulary.Count}, train {trainLength:N0} / validation {validation.Length:N0}{(streamed != null ? " (streamed from a token file; validation on the held-out part's first characters)" : "")}");
        error.WriteLine($"model   {config.Layers}x{config.Hidden} {config.ModuleName}, {model.Parameters.Length:N0} parameters; SIMD {Simd.Describe()}");
        string length = (bounded ? $"{totalSteps:N0} steps" : "until the time limit") + (settings.TimeLimit is TimeSpan limit && bounded ? $" or {Format(limit.TotalSeconds)}" : settings.TimeLimit is TimeSpan only ? $" ({Format(only.TotalSeconds)})" : "");
        string schedule = double.IsFinite(valInterval) ? $"every {Format(valInterval)}" : $"every {valEvery} steps";
        string lrText = scheduleKind == ScheduleKind.Cosine ? $"{settings.LearningRate.ToString(Invariant)} cosine to {lrMin.ToString(Invariant)}" : settings.LearningRate.ToString(Invariant);
        error.WriteLine($"train   batch {settings.Batch} x seq {settings.Seq}, Adam lr {lrText}, clip {settings.Clip.ToString(Invariant)}, seed {settings.Seed}, {threads} thread{(threads == 1 ? "" : "s")}; {length} ({trainer.WindowsPerEpoch} per epoch), validate {schedule}");
        error.WriteLine(string.Create(Invariant, $"regular dropout {settings.Dropout}, recurrent dropout {settings.RecurrentDropout}{(cellKind == CellKind.Lstm ? $", forget bias {settings.ForgetBias}" : "")}"));
        error.WriteLine($"output  {outPath} (best by held-out loss), log {logPath}, chart {outPath}.loss.svg");

        if (resumption != null)
        {
            string storedHash = resumption.Checkpoint.Metadata.TryGetValue("corpus.sha256", out var h) ? h : "";
            error.WriteLine($"resume  {resumption.Path} at step {firstStep:N0} (epoch {trainer.Epoch + 1}, window {trainer.Window + 1} of {trainer.WindowsPerEpoch}); " +
                (resumption.Changes.Count == 0 ? "no settings changed" : "changed: " + string.Join(", ", resumption.Changes)));
            if (storedHash != corpusHash) error.WriteLine("note    the corpus differs from the one this checkpoint trained on (same alphabet); continuing on the new text");
            string newest = LastPath(outPath);
            if (newest != Path.GetFullPath(resumption.Path) && File.Exists(newest))
            {
                // Only for a note: a damaged newer checkpoint must not stop a resume from a good one.
                long? later = null;
                try { later = Checkpoint.Load(newest).Metadata.TryGetValue("train.resume.step", out var newestStep) && long.TryParse(newestStep, Invariant, out long l) ? l : null; }
                catch (Exception unreadable) when (unreadable is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    error.WriteLine($"note    {newest} cannot be read ({unreadable.Message}); it will be overwritten");
                }
                if (later > firstStep)
                    error.WriteLine($"note    {newest} is at step {later:N0}, later than this checkpoint; steps after {firstStep:N0} will be trained again and overwrite it");
            }
        }
        // A resumed run keeps the log's records up to its starting step (later ones belong to an abandoned
        // future) and redraws the chart from them.
        var history = new List<StepRecord>();
        if (resumption != null && File.Exists(logPath))
        {
            var kept = File.ReadLines(logPath).Where(line => line.Length > 0).TakeWhile(line => LoggedStep(line) <= firstStep).ToList();
            AtomicFile.WriteAllText(logPath, kept.Count == 0 ? "" : string.Join('\n', kept) + "\n");
            try { history.AddRange(PlotCommand.Read(logPath)); } catch (UserError) { }
        }
        // The log's time_s runs on across resumes (the chart against wall time continues, rather than starting a
        // second line at 0); rates, the ETA and --time-limit use this invocation's own clock.
        double loggedTimeOffset = history.Count > 0 && double.IsFinite(history[^1].Seconds) ? history[^1].Seconds : 0;
        using var log = new StreamWriter(logPath, append: resumption != null, new UTF8Encoding(false));
        string plotPath = outPath + ".loss.svg";
        var progress = Progress.For(error);
        var clock = Stopwatch.StartNew();
        double best = resumption?.Best ?? double.PositiveInfinity, lastValidation = double.NaN;
        string lastPath = LastPath(outPath);
        long charsPerStep = (long)settings.Batch * settings.Seq;
        double recentTrainLoss = double.NaN;
        string lastSample = "";
        long step = firstStep;
        var guard = new DivergenceGuard(trainer);
        // Ctrl-C or SIGTERM: the step in progress finishes, the latest state is saved, and the run ends with
        // 130 or 143 and the command that resumes it. A second signal while that happens exits at once.
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = _signal == 0;
            _signal = context.Signal == PosixSignal.SIGTERM ? 15 : 2;
        }
        // What a checkpoint written now records: the run so far and the trainer's full state.
        CheckpointInfo Snapshot(int epoch, double seconds) =>
            new(corpusName, corpusHash, step, epoch, lastValidation, best, seconds, threads, scheduleKind == ScheduleKind.Cosine ? "cosine" : "constant",
                bounded ? totalSteps : null, lrMin, trainer.Capture()) { ValEvery = valEvery == long.MaxValue ? null : valEvery };
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        for (bool last = false; !last;)
        {
            step++;
            GuardedStep guarded = guard.Step();
            StepResult result = guarded.Result;
            if (guarded.Action == GuardAction.GaveUp)
                throw new UserError($"training diverged: {guarded.Failures} steps with a non-finite loss or gradient (the last at step {step}); nothing after the last good checkpoint was saved",
                    $"resume from {lastPath} with a lower --lr (or --clip), e.g. --lr {(settings.LearningRate / 4).ToString("G3", Invariant)}");
            if (guarded.Action != GuardAction.Applied)
            {
                string reloaded = guarded.Action == GuardAction.Reloaded ? $", {guard.ReloadAfter} in a row: reloaded the last good state (step {trainer.Step})" : "";
                progress.Message(string.Create(Invariant, $"warning: step {step} had a non-finite loss or gradient; update skipped, learning rate now x{guarded.LearningRateScale}{reloaded}"));
            }
            if (guarded.Action == GuardAction.Reloaded) step = trainer.Step;
            if (double.IsFinite(result.Loss)) recentTrainLoss = double.IsNaN(recentTrainLoss) ? result.Loss : 0.9 * recentTrainLoss + 0.1 * result.Loss;
            double elapsed = clock.Elapsed.TotalSeconds;
            double charsPerSecond = (step - firstStep) * charsPerStep / Math.Max(elapsed, 1e-9);
            bool interrupted = _signal != 0;
            last = step == totalSteps || elapsed >= timeLimit || interrupted;
            bool validate = !interrupted && (step % valEvery == 0 || elapsed >= nextTimedValidation || last);
            while (elapsed >= nextTimedValidation) nextTimedValidation += valInterval;
            double? validationLoss = null;
            if (validate && evaluator != null)
            {
                lastValidation = evaluator.MeanLoss(validation);
                validationLoss = lastValidation;
            }
            log.WriteLine(string.Create(Invariant,
                $"{{\"step\": {step}, \"epoch\": {result.Epoch}, \"loss\": {JsonText.Number(result.Loss)}, \"grad_norm\": {JsonText.Number(result.GradientNorm)}, \"applied\": {(result.Applied ? "true" : "false")}, \"lr\": {trainer.Optimizer.LearningRate:R}, \"time_s\": {loggedTimeOffset + elapsed:F3}, \"chars_per_s\": {charsPerSecond:F0}{(validationLoss is double vl ? $", \"val_loss\": {JsonText.Number(vl)}" : "")}}}"));
            history.Add(new StepRecord(step, loggedTimeOffset + elapsed, result.Loss, validationLoss));

            double eta = Math.Min(bounded ? (totalSteps - step) * elapsed / (step - firstStep) : double.PositiveInfinity, timeLimit - elapsed);
            double fraction = Math.Max(bounded ? step / (double)totalSteps : 0, double.IsFinite(timeLimit) ? elapsed / timeLimit : 0);
            string held = double.IsNaN(lastValidation) ? "-" : string.Create(Invariant, $"{lastValidation:F4} nats ({lastValidation / Math.Log(2):F3} bpc)");
            progress.Update(elapsed, bounded || double.IsFinite(timeLimit) ? fraction : double.NaN, string.Create(Invariant,
                $"step {step,6}{(bounded ? $"/{totalSteps}" : "")} | {charsPerSecond,7:N0} chars/s | {Format(elapsed)} elapsed, ETA {Format(eta)} | epoch {result.Epoch + 1,3} | train {recentTrainLoss:F4} nats ({recentTrainLoss / Math.Log(2):F3} bpc) | held-out {held}"),
                force: validate || step == 1);
            if (validate)
            {
                double score = evaluator != null ? lastValidation : recentTrainLoss; // no held-out text: keep the latest
                // Every validation writes the latest state (to resume from) and, when it improved, the best model.
                bool improved = evaluator == null || score < best;
                if (improved) best = Math.Min(best, score);
                var checkpoint = Snapshot(result.Epoch, elapsed);
                // The log first: a checkpoint at this step must never be on disk while the log lacks steps before it
                // (a resume keeps the log up to the checkpoint's step and appends from there).
                log.Flush();
                // A skipped (non-finite) step may have left NaN in the carried state: nothing is saved from it.
                if (result.Applied && TrySave(lastPath, model, vocabulary, checkpoint, progress))
                {
                    guard.MarkGood();
                    if (improved && TrySave(outPath, model, vocabulary, checkpoint, progress))
                        progress.Message($"         saved {outPath}{(evaluator != null ? $" (best held-out {best:F4} nats/char)" : "")}");
                }
                AtomicFile.WriteAllText(plotPath, LossPlot.Svg(history, $"{config.Layers}x{config.Hidden} {config.ModuleName} on {Path.GetFileName(settings.Corpus ?? "alice")}"));
                if (settings.SampleLength > 0)
                {
                    lastSample = Sample(model, vocabulary, settings.Seed + (ulong)step, settings.SampleLength);
                    progress.Message("--- sample ---\n" + lastSample + "\n--------------");
                }
            }
        }
        progress.Finish();
        log.Flush();
        double total = clock.Elapsed.TotalSeconds;
        if (_signal != 0)
        {
            string signal = _signal == 15 ? "SIGTERM" : "SIGINT";
            if (TrySave(lastPath, model, vocabulary, Snapshot(trainer.Epoch, total), progress))
            {
                error.WriteLine($"interrupted by {signal} after step {step:N0}: saved {lastPath}");
                error.WriteLine($"resume with: charrnn train --resume {lastPath}");
            }
            else
            {
                // TrySave said why (a warning above); what is on disk is the last state saved before this one.
                error.WriteLine($"interrupted by {signal} after step {step:N0}: this state was not saved");
                if (File.Exists(lastPath)) error.WriteLine($"resume with: charrnn train --resume {lastPath} (its last save, before step {step:N0})");
            }
            return 128 + _signal;
        }
        error.WriteLine(string.Create(Invariant,
            $"done: {step - firstStep:N0} steps in {Format(total)} ({(step - firstStep) * charsPerStep / total:N0} chars/s); best held-out {(double.IsInfinity(best) ? "-" : $"{best:F4} nats/char ({best / Math.Log(2):F4} bits/char)")}; checkpoint {outPath}"));
        if (lastSample.Length > 0)
        {
            output.WriteLine(lastSample);
            output.Flush();
        }
        return 0;
    }

    /// <summary>
    /// Shapes too large for one .NET array are refused before anything is allocated: the parameter slab, and the
    /// largest activation buffer, one layer's gates for a whole window. (Sizes that fit an array but not this
    /// machine's memory end in Program's out-of-memory message.)
    /// </summary>
    private void CheckSizes(ModelConfig shape)
    {
        const string SmallerModel = "use fewer --layers or a smaller --hidden";
        Inputs.FitsOneArray(shape.ParameterCount, $"--layers {shape.Layers} x --hidden {shape.Hidden}", "parameters", SmallerModel);
        try { shape.Validated(); }
        catch (ArgumentOutOfRangeException e) { throw new UserError($"--layers {shape.Layers} x --hidden {shape.Hidden}: {UserError.TextOf(e)}", SmallerModel); }
        long gates = (long)shape.GatesPerUnit * shape.Hidden;
        Inputs.FitsOneArray((long)settings.Batch * settings.Seq * gates, $"--batch {settings.Batch} x --seq {settings.Seq} x {gates} gates",
            "values in one activation buffer", "use a smaller --batch or --seq");
    }

    private CharModel<float> CreateModel(CellKind cellKind, Vocabulary vocabulary)
    {
        if (settings.InitFrom != null)
        {
            var loaded = Inputs.Model(settings.InitFrom, "--init-from");
            if (!loaded.Vocabulary.SameAs(vocabulary))
                throw new UserError($"{settings.InitFrom}: its vocabulary ({loaded.Vocabulary.Count} symbols) differs from the corpus's ({vocabulary.Count})", "fine-tune on text with exactly the same set of characters, or train from scratch");
            return loaded.Model;
        }
        var model = new CharModel<float>(new ModelConfig(cellKind, vocabulary.Count, settings.Hidden, settings.Layers));
        model.InitializeUniform(new Rng(settings.Seed), settings.ForgetBias);
        return model;
    }

    /// <summary>Corpora from this size on are streamed; CHARRNN_STREAM_FROM_BYTES overrides it (tests use small files).</summary>
    public static long StreamFromBytes =>
        long.TryParse(Environment.GetEnvironmentVariable("CHARRNN_STREAM_FROM_BYTES"), NumberStyles.Integer, Invariant, out long bytes) && bytes > 0 ? bytes : 64L << 20;

    private const int StreamedValidationChars = 50_000;

    private static StreamedCorpus? Streamed(string? path, string outPath)
    {
        if (path == null || !File.Exists(path) || new FileInfo(path).Length < StreamFromBytes) return null;
        try { return StreamedCorpus.Open(path, outPath + ".tokens"); }
        catch (InvalidDataException e) { throw new UserError(e.Message, "--corpus needs a UTF-8 text file with at least a few characters"); }
    }

    /// <summary>Saves, or explains on standard error why not (a non-finite value is never written); true if saved.</summary>
    private bool TrySave(string path, CharModel<float> model, Vocabulary vocabulary, CheckpointInfo info, Progress progress)
    {
        try
        {
            SaveCheckpoint(path, model, vocabulary, info);
            return true;
        }
        catch (InvalidOperationException e)
        {
            progress.Message($"warning: {path} not written: {e.Message}");
            return false;
        }
    }

    private static long LoggedStep(string line)
    {
        try { using var json = System.Text.Json.JsonDocument.Parse(line); return json.RootElement.GetProperty("step").GetInt64(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or KeyNotFoundException or InvalidOperationException or FormatException) { return long.MaxValue; }
    }

    /// <summary>The latest-state checkpoint beside the best one: alice.safetensors -> alice.last.safetensors.</summary>
    public static string LastPath(string outPath) =>
        Path.Combine(Path.GetDirectoryName(outPath)!, Path.GetFileNameWithoutExtension(outPath) + ".last" + (Path.HasExtension(outPath) ? Path.GetExtension(outPath) : ".safetensors"));

    private sealed record CheckpointInfo(string CorpusName, string CorpusHash, long Step, int Epoch, double Validation, double Best, double Elapsed,
        int Threads, string Schedule, long? TotalSteps, float LearningRateMin, TrainerState State)
    {
        /// <summary>The validation cadence in steps, when it is by steps (a resumed run keeps it).</summary>
        public long? ValEvery { get; init; }
    }

    private void SaveCheckpoint(string path, CharModel<float> model, Vocabulary vocabulary, CheckpointInfo info)
    {
        var metadata = new Dictionary<string, string>
        {
            ["corpus"] = info.CorpusName,
            ["corpus.sha256"] = info.CorpusHash,
            ["train.step"] = info.Step.ToString(Invariant),
            ["train.epoch"] = info.Epoch.ToString(Invariant),
            ["train.seconds"] = info.Elapsed.ToString("F1", Invariant),
            ["train.batch"] = settings.Batch.ToString(Invariant),
            ["train.seq"] = settings.Seq.ToString(Invariant),
            ["train.lr"] = settings.LearningRate.ToString("R", Invariant),
            ["train.lr_schedule"] = info.Schedule,
            ["train.lr_min"] = info.LearningRateMin.ToString("R", Invariant),
            ["train.total_steps"] = info.TotalSteps?.ToString(Invariant) ?? "",
            ["train.clip"] = settings.Clip.ToString("R", Invariant),
            ["train.seed"] = settings.Seed.ToString(Invariant),
            ["train.val_fraction"] = settings.ValFraction.ToString("R", Invariant),
            ["train.dropout"] = settings.Dropout.ToString("R", Invariant),
            ["train.recurrent_dropout"] = settings.RecurrentDropout.ToString("R", Invariant),
            ["train.forget_bias"] = settings.ForgetBias.ToString("R", Invariant),
            ["train.threads"] = info.Threads.ToString(Invariant),
            ["train.val_every"] = info.ValEvery?.ToString(Invariant) ?? "",
            ["train.time_limit_s"] = settings.TimeLimit?.TotalSeconds.ToString("R", Invariant) ?? "",
            ["train.sample_length"] = settings.SampleLength.ToString(Invariant),
        };
        if (!double.IsNaN(info.Validation)) metadata["val.nats_per_char"] = info.Validation.ToString("R", Invariant);
        if (double.IsFinite(info.Best)) metadata["train.best_val"] = info.Best.ToString("R", Invariant);
        foreach (var (key, value) in TrainingCheckpoint.Metadata(info.State)) metadata[key] = value;
        Checkpoint.Save(path, model, vocabulary, metadata, TrainingCheckpoint.Tensors(info.State, settings.Batch, model.Config.Hidden));
    }

    private static string Sample(CharModel<float> model, Vocabulary vocabulary, ulong seed, int length)
    {
        using var sampler = new Sampler(model, seed) { Temperature = 0.8f };
        sampler.Prime([SampleCommand.StartSymbol(vocabulary)]);
        var text = new StringBuilder(length);
        for (int i = 0; i < length; i++) text.Append(vocabulary.TextOf(sampler.Next()));
        return text.ToString();
    }


    private const double MaxShownSeconds = 3.6e9;

    private static string Format(double seconds)
    {
        if (!double.IsFinite(seconds)) return "-";
        if (seconds >= MaxShownSeconds) return ">1000000h"; // an ETA of a huge --steps: TimeSpan would overflow past ~2.9e4 years
        var t = TimeSpan.FromSeconds(seconds);
        return t.TotalHours >= 1 ? string.Create(Invariant, $"{(int)t.TotalHours}h{t.Minutes:D2}m")
            : t.TotalMinutes >= 1 ? string.Create(Invariant, $"{t.Minutes}m{t.Seconds:D2}s")
            : string.Create(Invariant, $"{t.TotalSeconds:F1}s");
    }
}
