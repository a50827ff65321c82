// charrnn bench: the performance issue's workloads end to end, in this process, beside the machine's FMA
// peak measured in the same run (before and after the workloads, the larger). Training throughput is B*T characters per optimizer step (data, forward,
// backward, clipping, Adam) after a warm-up; sampling throughput is generated characters per second
// at batch 1 and temperature 1 (logits, softmax, draw, next input). Beside the overall rate it reports the
// best rate over windows of at least 0.5 s: on a shared machine, what the code does while the neighbours are
// quiet. Training on several threads also reports the share of the threads' time in the parallel phases spent
// outside the work: hand-offs, and waiting for the slowest thread (equal work finishing at unequal times, on
// cores slowed by neighbours). FLOP counts treat the one-hot input product as dense (as the issue's 19.8
// MFLOP/char for W1 does): forward 2 FLOP per weight per character, training three times that (forward, and
// backward's two products).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using CharRnn.Engine.Benchmarks;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public static class BenchCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private sealed record Workload(string Name, string What, bool Training, int Hidden, int Seq, int Batch, WeightFormat Weights = WeightFormat.Float32);

    private static readonly Workload[] Workloads =
    [
        new("W1", "train 2x512 LSTM, T=100, B=64", true, 512, 100, 64),
        new("W2", "train 2x128 LSTM, T=50, B=50", true, 128, 50, 50),
        new("W3", "sample batch 1, 2x512 LSTM", false, 512, 1, 1),
        new("W4", "sample batch 1, 2x128 LSTM", false, 128, 1, 1),
        new("W3-bf16", "W3 with bf16 weights", false, 512, 1, 1, WeightFormat.BFloat16),
        new("W4-bf16", "W4 with bf16 weights", false, 128, 1, 1, WeightFormat.BFloat16),
        new("W3-int8", "W3 with int8 weights", false, 512, 1, 1, WeightFormat.Int8),
        new("W4-int8", "W4 with int8 weights", false, 128, 1, 1, WeightFormat.Int8),
    ];

    private static readonly string WorkloadNames = string.Join(", ", Workloads.Select(w => w.Name)) + " or all";

    public static Command Create(TextWriter output, TextWriter error)
    {
        var workload = new Option<string>("--workload") { Description = WorkloadNames, DefaultValueFactory = _ => "all" };
        var threads = new Option<int?>("--threads") { Description = "threads for every workload (default: all cores); sampling splits each step's weights among them" };
        var seconds = new Option<double>("--seconds") { Description = "measuring time per workload, after warm-up", DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of a table" };
        var command = new Command("bench", "Measure training and sampling throughput (chars/s, GFLOP/s, share of the measured FMA peak).") { workload, threads, seconds, json };
        command.SetAction(parse =>
        {
            string name = parse.GetValue(workload)!;
            var chosen = name.Equals("all", StringComparison.OrdinalIgnoreCase) ? Workloads : Workloads.Where(w => w.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).ToArray();
            if (chosen.Length == 0) throw new UserError($"--workload '{name}' is not a workload", $"use {WorkloadNames}");
            int threadCount = Inputs.Threads(parse.GetValue(threads));
            double budget = parse.GetValue(seconds);
            if (!(budget > 0 && budget <= 3600)) throw new UserError($"--seconds must be in (0, 3600], got {budget.ToString(Invariant)}", "e.g. --seconds 10");

            error.WriteLine($"bench: {Environment.ProcessorCount} cores, SIMD {Simd.Describe()}; measuring the FMA peak...");
            double peakOne = FmaPeak.Measure(1), peakAll = FmaPeak.Measure(threadCount);
            var (text, _) = Inputs.Corpus(null);
            var vocabulary = Vocabulary.FromText(text);
            int[] tokens = vocabulary.Encode(text);
            var results = new List<(Workload W, int Threads, double CharsPerSecond, double BestWindow, double Gflops, double? Waiting)>();
            foreach (var w in chosen)
            {
                var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, vocabulary.Count, w.Hidden, 2));
                model.InitializeUniform(new Rng(1));
                double flopsPerChar = (w.Training ? 6.0 : 2.0) * model.Layout.Tensors.Where(t => t.Shape.Length == 2).Sum(t => (double)t.Length);
                int used = w.Training ? Math.Min(threadCount, w.Batch) : SplitStepper.ThreadsFor(w.Hidden, threadCount);
                error.WriteLine($"{w.Name}: {w.What}, {used} thread{(used == 1 ? "" : "s")}...");
                var (rate, bestWindow, waiting) = w.Training ? TrainRate(model, tokens, w, used, budget) : SampleRate(model, used, w.Weights, budget);
                results.Add((w, used, rate, bestWindow, rate * flopsPerChar / 1e9, waiting));
            }
            // The peak again after the workloads, keeping the larger: a neighbour busy during one measurement
            // would otherwise lower the peak and inflate every share (a share over 100% was seen that way).
            peakOne = Math.Max(peakOne, FmaPeak.Measure(1));
            peakAll = Math.Max(peakAll, FmaPeak.Measure(threadCount));
            // A share of the peak of the threads actually used: measured for 1 and for all; in between, per-core peak x threads.
            double PeakShare(int used, double gflops) => gflops / (used == 1 ? peakOne : used == threadCount ? peakAll : peakOne * used);

            if (parse.GetValue(json))
            {
                var line = new StringBuilder();
                line.Append(Invariant, $"{{\"cores\": {Environment.ProcessorCount}, \"simd\": \"{Simd.Best}\", \"fma_peak_gflops_1_thread\": {peakOne:F1}, \"fma_peak_gflops_{threadCount}_threads\": {peakAll:F1}, \"workloads\": [");
                line.AppendJoin(", ", results.Select(r => string.Create(Invariant,
                    $"{{\"workload\": \"{r.W.Name}\", \"threads\": {r.Threads}, \"chars_per_s\": {r.CharsPerSecond:F0}, \"best_window_chars_per_s\": {r.BestWindow:F0}, \"gflops\": {r.Gflops:F2}, \"peak_share\": {PeakShare(r.Threads, r.Gflops):F4}, \"thread_wait_share\": {(r.Waiting is double waiting ? waiting.ToString("F4", Invariant) : "null")}}}")));
                line.Append("]}");
                output.WriteLine(line.ToString());
            }
            else
            {
                output.WriteLine(string.Create(Invariant, $"FMA peak (fp32, {Simd.Best}): {peakOne:F1} GFLOP/s on 1 thread, {peakAll:F1} on {threadCount}"));
                output.WriteLine($"{"workload",-40} {"threads",7} {"chars/s",10} {"GFLOP/s",8} {"of peak",8} {"best 0.5 s",11} {"waiting",8}");
                foreach (var r in results)
                    output.WriteLine(string.Create(Invariant, $"{r.W.Name + " " + r.W.What,-40} {r.Threads,7} {r.CharsPerSecond,10:N0} {r.Gflops,8:F1} {PeakShare(r.Threads, r.Gflops),8:P0} {r.BestWindow,11:N0} {(r.Waiting is double waiting ? waiting.ToString("P0", Invariant) : "-"),8}"));
                if (results.Any(r => r.Waiting != null))
                    output.WriteLine("waiting: the training threads' share of the parallel phases spent handing off or waiting for the slowest");
            }
            return 0;
        });
        return command;
    }

    // Warm-up before measuring: the JIT compiles each method first quickly and recompiles the ones called often
    // (after ~30 calls, in the background), so the first fraction of a second runs slower code; one step or a
    // few hundred characters, as before, left that inside the measurement. A shorter --seconds shortens it too.
    private const double WarmUpSeconds = 1.5;

    private static Rate TrainRate(CharModel<float> model, int[] tokens, Workload w, int threads, double budget)
    {
        using var trainer = new Trainer(model, tokens, new TrainerOptions { Batch = w.Batch, Steps = w.Seq, LearningRate = 2e-3f, ClipNorm = 5f, Threads = threads });
        var warmUp = Stopwatch.StartNew();
        do trainer.TrainStep(); while (warmUp.Elapsed.TotalSeconds < Math.Min(WarmUpSeconds, budget)); // also the first touch of every buffer
        var clock = Stopwatch.StartNew();
        var window = new WindowRate(w.Batch * w.Seq);
        var threadTimes = trainer.ThreadTimes;
        int steps = 0;
        do { trainer.TrainStep(); steps++; window.Add(1); } while (clock.Elapsed.TotalSeconds < budget || steps < 3);
        var times = trainer.ThreadTimes - threadTimes;
        return Rate.Of((double)steps * w.Batch * w.Seq / clock.Elapsed.TotalSeconds, window, threads > 1 ? times.WaitShare : null);
    }

    /// <summary>Overall throughput, and the best over windows of at least 0.5 s (one step at least): on a shared
    /// machine the first is what a run got, the second what the code does when the neighbours are quiet.
    /// Waiting: training's PoolTimes.WaitShare on several threads, else null. Sampling's threads meet at a barrier
    /// inside each step, out of a pool's sight, and clock reads per character would cost ~1% of W4's.</summary>
    private readonly record struct Rate(double Overall, double BestWindow, double? Waiting)
    {
        // A run shorter than one window has only its overall rate; a best window is never below the average.
        public static Rate Of(double overall, WindowRate windows, double? waiting = null) => new(overall, Math.Max(overall, windows.Best), waiting);
    }

    private sealed class WindowRate(double charactersPerUnit)
    {
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _units;
        public double Best { get; private set; }

        public void Add(long units)
        {
            _units += units;
            double seconds = _clock.Elapsed.TotalSeconds;
            if (seconds < 0.5) return;
            Best = Math.Max(Best, _units * charactersPerUnit / seconds);
            _units = 0;
            _clock.Restart();
        }
    }

    private static Rate SampleRate(CharModel<float> model, int threads, WeightFormat weights, double budget)
    {
        using var sampler = new Sampler(model, seed: 1, count: 1, threads, weights) { Temperature = 1f };
        sampler.Prime([0]);
        var warmUp = Stopwatch.StartNew();
        do { for (int i = 0; i < 100; i++) sampler.Next(); } while (warmUp.Elapsed.TotalSeconds < Math.Min(WarmUpSeconds, budget));
        var clock = Stopwatch.StartNew();
        var window = new WindowRate(1);
        long count = 0;
        do
        {
            for (int i = 0; i < 100; i++) sampler.Next();
            count += 100;
            window.Add(100);
        } while (clock.Elapsed.TotalSeconds < budget);
        return Rate.Of(count / clock.Elapsed.TotalSeconds, window);
    }
}
