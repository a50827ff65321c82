// Compares two builds of CharRnn.Engine on a training workload inside one process, so that both see the same
// minutes of a noisy machine. Each build is loaded into its own AssemblyLoadContext (its own JIT code and
// statics) and drives its own Trainer on the same model, data and options; the two then take turns, a few
// optimizer steps each, round after round, the order alternating. Reported: each build's chars/s over all
// rounds, the ratio of their total times, and the median of the per-round ratios (the robust figure).
// Separate processes on a shared VM swing 10-30% from minute to minute; this resolves a few percent. A build
// against itself reads 1.00 (checked: median 1.0002 at W2 over 30 rounds).
//
//   git worktree add /tmp/ab-base <commit>
//   dotnet build /tmp/ab-base/src/Engine -c Release -o /tmp/ab/base
//   dotnet build src/Engine -c Release -o /tmp/ab/new
//   dotnet run -c Release --project tools/AbCompare -- /tmp/ab/base /tmp/ab/new --workload W2 --rounds 30
//
// Both builds also run the same number of steps, so their last losses must match when the change is meant to
// be bit-identical; they are printed side by side. The workloads' sizes are those of `charrnn bench`
// (src/Runner/Commands/BenchCommand.cs). System.Numerics.Tensors resolves from this tool's own copy for both
// builds, so a change of that package cannot be compared here.
// Deliberately not here: a toggle inside one build. A static flag tested in the product code changes how the
// JIT lays that code out, and such a toggle read 1.07 against itself.
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;

return AbCompare.Run(args);

static class AbCompare
{
    private sealed record Workload(string Name, int Batch, int Hidden, int Steps, int StepsPerRound);

    private const int MinimumWarmupSteps = 3;

    private static readonly Workload[] Workloads =
    [
        new("W1", Batch: 64, Hidden: 512, Steps: 100, StepsPerRound: 2),
        new("W2", Batch: 50, Hidden: 128, Steps: 50, StepsPerRound: 6),
        new("default", Batch: 32, Hidden: 256, Steps: 64, StepsPerRound: 4), // charrnn train's model and window (no dropout here)
    ];

    public static int Run(string[] args)
    {
        try
        {
            var options = Options.Parse(args);
            string text = File.ReadAllText(options.Corpus);
            var workload = options.Workload;
            int perRound = options.StepsPerRound ?? workload.StepsPerRound;
            Func<double>[] step = [Load(options.BuildA, text, workload, options.Threads), Load(options.BuildB, text, workload, options.Threads)];
            Console.WriteLine($"{workload.Name}: 2x{workload.Hidden} LSTM, T={workload.Steps}, B={workload.Batch}, {options.Threads} threads; " +
                $"{options.Rounds} rounds of {perRound} steps each; A = {options.BuildA}, B = {options.BuildB}");

            // Warm-up: both builds through tiered compilation to their steady code (at least MinimumWarmupSteps each,
            // however short the time asked for: W1's steps take about a second).
            var warm = Stopwatch.StartNew();
            double[] loss = new double[2];
            for (int s = 0; s < MinimumWarmupSteps || warm.Elapsed.TotalSeconds < options.WarmupSeconds; s++) { loss[0] = step[0](); loss[1] = step[1](); }

            double[] total = new double[2];
            var ratios = new List<double>(options.Rounds);
            int bWins = 0;
            for (int round = 0; round < options.Rounds; round++)
            {
                double[] seconds = new double[2];
                foreach (int build in round % 2 == 0 ? new[] { 0, 1 } : new[] { 1, 0 })
                {
                    long start = Stopwatch.GetTimestamp();
                    for (int s = 0; s < perRound; s++) loss[build] = step[build]();
                    seconds[build] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                }
                total[0] += seconds[0]; total[1] += seconds[1];
                ratios.Add(seconds[0] / seconds[1]);
                if (seconds[1] < seconds[0]) bWins++;
            }
            double chars = (double)options.Rounds * perRound * workload.Batch * workload.Steps;
            ratios.Sort();
            int middle = ratios.Count / 2;
            double median = ratios.Count % 2 == 1 ? ratios[middle] : (ratios[middle - 1] + ratios[middle]) / 2;
            Console.WriteLine($"A {chars / total[0]:N0} chars/s, B {chars / total[1]:N0} chars/s; B/A speed {total[0] / total[1]:F4} over all rounds, " +
                $"median per round {median:F4}; B faster in {bWins} of {options.Rounds} rounds");
            Console.WriteLine($"last loss: A {loss[0]:R}, B {loss[1]:R} ({(loss[0].Equals(loss[1]) ? "identical" : "different")})");
            return 0;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("usage: AbCompare BUILD_A BUILD_B [--workload W1|W2|default] [--rounds N] [--steps-per-round N] [--threads N] [--warmup SECONDS] [--corpus FILE]");
            return 2;
        }
    }

    /// <summary>A Trainer of the engine build in directory, as one optimizer step returning its loss.</summary>
    private static Func<double> Load(string directory, string text, Workload workload, int threads)
    {
        string engine = Path.Combine(directory, "CharRnn.Engine.dll");
        if (!File.Exists(engine)) throw new UsageException($"{engine} not found; hint: dotnet build src/Engine -c Release -o {directory}");
        var context = new AssemblyLoadContext(directory);
        context.Resolving += (ctx, name) =>
        {
            string candidate = Path.Combine(directory, name.Name + ".dll");
            return File.Exists(candidate) ? ctx.LoadFromAssemblyPath(candidate) : null;
        };
        var assembly = context.LoadFromAssemblyPath(engine);
        // A build from another commit may lack what this tool calls: say which member, not a stack trace.
        T Found<T>(T? member, string what) where T : class =>
            member ?? throw new UsageException($"{what} not found in {engine}; hint: this build's API differs from what AbCompare drives");
        Type TypeOf(string name) => Found(assembly.GetType("CharRnn.Engine." + name), "type CharRnn.Engine." + name);

        var vocabularyType = TypeOf("Model.Vocabulary");
        var vocabulary = Found(vocabularyType.GetMethod("FromText"), "Vocabulary.FromText").Invoke(null, [text])!;
        var tokens = (int[])Found(vocabularyType.GetMethod("Encode", [typeof(string)]), "Vocabulary.Encode(string)").Invoke(vocabulary, [text])!;
        int symbols = (int)Found(vocabularyType.GetProperty("Count"), "Vocabulary.Count").GetValue(vocabulary)!;
        var config = Activator.CreateInstance(TypeOf("Model.ModelConfig"), Enum.Parse(TypeOf("Model.CellKind"), "Lstm"), symbols, workload.Hidden, 2)!;
        var modelType = Found(assembly.GetType("CharRnn.Engine.Model.CharModel`1"), "type CharModel<T>").MakeGenericType(typeof(float));
        var model = Activator.CreateInstance(modelType, config)!;
        Found(modelType.GetMethod("InitializeUniform"), "CharModel.InitializeUniform").Invoke(model, [Activator.CreateInstance(TypeOf("Sampling.Rng"), 1UL), 0f]);

        var optionsType = TypeOf("Training.TrainerOptions");
        var trainerOptions = Activator.CreateInstance(optionsType)!;
        void Set(string property, object value) => Found(optionsType.GetProperty(property), "TrainerOptions." + property).SetValue(trainerOptions, value);
        Set("Batch", workload.Batch); Set("Steps", workload.Steps); Set("LearningRate", 2e-3f); Set("ClipNorm", 5f); Set("Threads", threads);
        var trainerType = TypeOf("Training.Trainer");
        var trainer = Found(trainerType.GetConstructor([modelType, typeof(int[]), optionsType]), "Trainer(CharModel<float>, int[], TrainerOptions)").Invoke([model, tokens, trainerOptions]);
        var trainStep = Found(trainerType.GetMethod("TrainStep"), "Trainer.TrainStep");
        var lossOf = Found(trainStep.ReturnType.GetProperty("Loss"), "StepResult.Loss");
        return () => (double)lossOf.GetValue(trainStep.Invoke(trainer, null))!;
    }

    private sealed class UsageException(string message) : Exception(message);

    private sealed record Options(string BuildA, string BuildB, Workload Workload, int Rounds, int? StepsPerRound, int Threads, double WarmupSeconds, string Corpus)
    {
        public static Options Parse(string[] args)
        {
            var positional = new List<string>();
            Workload workload = Workloads[1];
            int rounds = 30, threads = Environment.ProcessorCount;
            int? perRound = null;
            double warmup = 3;
            string corpus = Path.Combine("src", "Runner", "Resources", "alice.txt");
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new UsageException($"{args[i]} needs a value");
                int Count(string name) => int.TryParse(Value(), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : throw new UsageException($"{name} must be a positive integer");
                switch (args[i])
                {
                    case "--workload":
                        string name = Value();
                        workload = Workloads.FirstOrDefault(w => w.Name.Equals(name, StringComparison.OrdinalIgnoreCase)) ?? throw new UsageException($"unknown workload '{name}'; hint: W1, W2 or default");
                        break;
                    case "--rounds": rounds = Count("--rounds"); break;
                    case "--steps-per-round": perRound = Count("--steps-per-round"); break;
                    case "--threads": threads = Count("--threads"); break;
                    case "--warmup": warmup = double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s >= 0 ? s : throw new UsageException("--warmup must be a number of seconds"); break;
                    case "--corpus": corpus = Value(); break;
                    default:
                        if (args[i].StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unknown option {args[i]}");
                        positional.Add(args[i]);
                        break;
                }
            }
            if (positional.Count != 2) throw new UsageException("give two engine build directories, A then B");
            if (!File.Exists(corpus)) throw new UsageException($"corpus {corpus} not found; hint: run from the repository root or pass --corpus");
            return new Options(positional[0], positional[1], workload, rounds, perRound, threads, warmup, corpus);
        }
    }
}
