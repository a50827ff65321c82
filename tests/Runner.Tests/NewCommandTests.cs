// The commands and train options added with issue 3: dropout, recurrent dropout, forget bias, threads, time
// limit and learning-rate schedule on `train`; `gradflow` with its table and SVG; `demo alphabet`.
using System.Text;
using System.Xml.Linq;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Runner.Demos;

namespace CharRnn.Runner.Tests;

public sealed class NewCommandTests : IDisposable
{
    /// <summary>How far past --time-limit the last step may end: one step of the small model (milliseconds) plus a
    /// preemption or two on a busy CI machine.</summary>
    private const double TimeLimitOvershootSeconds = 2.0;

    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string SmallCorpus()
    {
        string path = PathOf("small.txt");
        File.WriteAllText(path, Cli.SmallCorpus, new UTF8Encoding(false));
        return path;
    }

    private string[] SmallTrain(params string[] extra) =>
        ["train", "--corpus", SmallCorpus(), "--layers", "1", "--hidden", "16", "--seq", "8", "--batch", "4", "--sample-length", "0", "--out", PathOf("m.safetensors"), .. extra];

    // ---- train options ---------------------------------------------------------------------------------------

    [Theory]
    [InlineData("--dropout", "1")]
    [InlineData("--dropout", "-0.1")]
    [InlineData("--recurrent-dropout", "1.5")]
    public void Train_DropoutOutsideZeroToOne_FailsWithErrorAndHint(string option, string value)
    {
        Cli.AssertUserError(Cli.Run(SmallTrain(option, value, "--steps", "5")), $"{option} must be in [0, 1)");
        Assert.False(File.Exists(PathOf("m.safetensors")));
    }

    [Theory]
    [InlineData("10", "is not a duration")]
    [InlineData("ten minutes", "is not a duration")]
    [InlineData("-5m", "must be positive")]
    public void Train_BadTimeLimit_FailsWithErrorAndHint(string value, string fragment) =>
        Cli.AssertUserError(Cli.Run(SmallTrain("--time-limit", value)), fragment);

    [Fact]
    public void Train_CosineWithOnlyATimeLimit_FailsBecauseTheScheduleNeedsSteps() =>
        Cli.AssertUserError(Cli.Run(SmallTrain("--time-limit", "1m", "--lr-schedule", "cosine")), "needs a known number of steps");

    [Fact]
    public void Train_UnknownSchedule_FailsWithErrorAndHint() =>
        Cli.AssertUserError(Cli.Run(SmallTrain("--lr-schedule", "linear", "--steps", "5")), "'linear'");

    [Fact]
    public void Train_NegativeThreads_FailsWithErrorAndHint() =>
        Cli.AssertUserError(Cli.Run(SmallTrain("--threads", "-1", "--steps", "5")), "--threads must be between 1 and 256");

    [Fact]
    public void Train_WithRegularisationThreadsAndSchedule_RecordsThemInTheCheckpoint()
    {
        var result = Cli.Run(SmallTrain("--steps", "12", "--val-every", "6", "--dropout", "0.2", "--recurrent-dropout", "0.1",
            "--forget-bias", "1", "--threads", "2", "--lr-schedule", "cosine", "--lr-min", "0.0001"));
        Cli.AssertSucceeded(result);
        Assert.Contains("regular dropout 0.2, recurrent dropout 0.1, forget bias 1", result.Err);
        Assert.Contains("2 threads", result.Err);
        Assert.Contains("cosine to 0.0001", result.Err);
        var file = SafeTensorsFile.Read(PathOf("m.safetensors"));
        Assert.Equal("0.2", file.Metadata["train.dropout"]);
        Assert.Equal("0.1", file.Metadata["train.recurrent_dropout"]);
        Assert.Equal("1", file.Metadata["train.forget_bias"]);
        Assert.Equal("2", file.Metadata["train.threads"]);
        Assert.Equal("cosine", file.Metadata["train.lr_schedule"]);
        // The last logged learning rate is the schedule's end: cosine reaches --lr-min at the final step.
        string lastLine = File.ReadLines(PathOf("m.safetensors") + ".metrics.jsonl").Last();
        Assert.Contains("\"lr\": 0.0001", lastLine);
    }

    [Fact]
    public void Train_TimeLimit_StopsTheRunAndStillValidatesAndSaves()
    {
        var result = Cli.Run(SmallTrain("--epochs", "100000", "--time-limit", "1s"));
        Cli.AssertSucceeded(result);
        Assert.Contains("done: ", result.Err);
        Assert.True(File.Exists(PathOf("m.safetensors")), "the run saved no checkpoint");
        string[] records = File.ReadAllLines(PathOf("m.safetensors") + ".metrics.jsonl");
        Assert.Contains("val_loss", records[^1]);
        // It stopped at the first step that ended past the limit: that step's clock reads 1 s or more, the one
        // before it less (a step of this model takes milliseconds; the upper bound allows a busy machine).
        static double Seconds(string record) => System.Text.Json.JsonDocument.Parse(record).RootElement.GetProperty("time_s").GetDouble();
        Assert.InRange(Seconds(records[^1]), 1.0, 1.0 + TimeLimitOvershootSeconds);
        // (time_s has three decimals: a step that ended at 0.9996 s reads 1.000.)
        if (records.Length > 1) Assert.True(Seconds(records[^2]) <= 1.0, $"the step before the last ended at {Seconds(records[^2])} s, past the limit");
    }

    // ---- gradflow --------------------------------------------------------------------------------------------

    [Fact]
    public void Gradflow_FreshModels_PrintsATableAndWritesAnSvgChart()
    {
        string svg = PathOf("flow.svg");
        var result = Cli.Run("gradflow", "--corpus", SmallCorpus(), "--distance", "20", "--windows", "4", "--hidden", "16", "--layers", "1", "--svg", svg);
        Cli.AssertSucceeded(result);
        string[] lines = result.Out.TrimEnd().Split(Environment.NewLine);
        Assert.Equal(22, lines.Length); // header + k = 0..20
        Assert.All(lines, line => Assert.Equal(lines[0].Length, line.Length)); // the header stands over its columns
        Assert.Equal(["k", "lstm", "fb=0", "(init)", "lstm", "fb=1", "(init)", "gru", "(init)", "rnn", "(init)"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        foreach (string line in lines[1..])
        {
            string[] cells = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(5, cells.Length);
            foreach (string cell in cells[1..]) Assert.True(double.Parse(cell, System.Globalization.CultureInfo.InvariantCulture) > 0, $"non-positive norm in: {line}");
        }
        // A well-formed SVG with one line per model and a log axis.
        var document = XDocument.Load(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        Assert.Equal(ns + "svg", document.Root!.Name);
        Assert.Equal(4, document.Descendants(ns + "polyline").Count());
        Assert.Contains(document.Descendants(ns + "text"), t => t.Value.Contains("log scale"));
    }

    [Fact]
    public void Gradflow_CorpusTooShortForDistinctWindows_SaysSo()
    {
        string corpus = PathOf("short.txt");
        File.WriteAllText(corpus, Cli.SmallCorpus[..45], new UTF8Encoding(false)); // 41 characters per window: room for 5 starts
        var result = Cli.Run("gradflow", "--corpus", corpus, "--distance", "20", "--windows", "8", "--hidden", "8", "--layers", "1");
        Cli.AssertSucceeded(result);
        Assert.Contains("holds only 5 distinct windows of 41 characters", result.Err);
    }

    [Fact]
    public void Gradflow_LayerOutsideTheModel_FailsWithErrorAndHint()
    {
        var vocabulary = Vocabulary.FromText(Cli.SmallCorpus);
        var model = new CharModel<float>(new ModelConfig(CellKind.Gru, vocabulary.Count, 8, 1));
        model.InitializeUniform(new Engine.Sampling.Rng(1));
        Checkpoint.Save(PathOf("g.safetensors"), model, vocabulary);
        Cli.AssertUserError(Cli.Run("gradflow", "--model", PathOf("g.safetensors"), "--corpus", SmallCorpus(), "--layer", "2", "--distance", "5"), "--layer 2 does not exist");
    }

    // ---- demo alphabet ---------------------------------------------------------------------------------------

    public static TheoryData<CellKind> Cells() => new() { CellKind.Lstm, CellKind.Gru, CellKind.Rnn };

    [Theory, MemberData(nameof(Cells))]
    public void AlphabetDemo_RecitesExactly_ForwardsAndBackwards(CellKind cell)
    {
        foreach (ulong seed in new ulong[] { 1, 2 })
        {
            var result = AlphabetDemo.Run(cell, seed);
            foreach (var r in result.Recitations)
                Assert.True(r.Exact, $"{cell} seed {seed} {r.Direction} from '{r.From}': recited {r.Recited}, expected {r.Expected}");
            Assert.Equal(4, result.Recitations.Count);
        }
    }

    [Fact]
    public void AlphabetDemo_Command_WhenARecitationIsWrong_SaysSoOnStandardError()
    {
        var result = Cli.Run("demo", "alphabet", "--cell", "rnn", "--steps", "1"); // one step teaches nothing
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("WRONG", result.Out);
        Assert.Contains("error: not every recitation was exact", result.Err);
        Assert.Contains("hint: train longer, e.g. --steps 2", result.Err);
    }

    [Fact]
    public void AlphabetDemo_Command_PrintsEachRecitation()
    {
        var result = Cli.Run("demo", "alphabet", "--cell", "rnn");
        Cli.AssertSucceeded(result);
        Assert.Contains("forwards  from 'a': abcdefghijklmnopqrstuvwxyz   exact", result.Out);
        Assert.Contains("forwards  from 'k': klmnopqrstuvwxyz   exact", result.Out);
        Assert.Contains("backwards from 'z': zyxwvutsrqponmlkjihgfedcba   exact", result.Out);
        Assert.Contains("backwards from 'p': ponmlkjihgfedcba   exact", result.Out);
    }
}

public sealed class PlotTests : IDisposable
{
    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static readonly System.Xml.Linq.XNamespace Svg = "http://www.w3.org/2000/svg";

    private string TrainSmall()
    {
        string corpus = PathOf("small.txt");
        File.WriteAllText(corpus, Cli.SmallCorpus, new UTF8Encoding(false));
        string model = PathOf("m.safetensors");
        Cli.AssertSucceeded(Cli.Run("train", "--corpus", corpus, "--layers", "1", "--hidden", "16", "--seq", "8", "--batch", "4",
            "--steps", "40", "--val-every", "10", "--sample-length", "0", "--out", model));
        return model;
    }

    [Fact]
    public void Train_RefreshesALossChartBesideItsCheckpoint()
    {
        string model = TrainSmall();
        var document = XDocument.Load(model + ".loss.svg");
        Assert.Equal(Svg + "svg", document.Root!.Name);
        // Two stacked charts (against step, against time), each with the smoothed train line and the held-out line.
        Assert.Equal(4, document.Descendants(Svg + "polyline").Count());
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "optimizer step");
        Assert.Contains(document.Descendants(Svg + "text"), t => t.Value == "wall time (minutes)");
    }

    [Fact]
    public void Plot_DrawsTheMetricsLog()
    {
        string model = TrainSmall();
        string svg = PathOf("loss.svg");
        var result = Cli.Run("plot", "--log", model + ".metrics.jsonl", "--svg", svg);
        Cli.AssertSucceeded(result);
        Assert.Contains("40 steps, 4 validations", result.Out);
        var document = XDocument.Load(svg);
        Assert.Equal(4, document.Descendants(Svg + "polyline").Count());
        // Every polyline point lies inside the 760-wide canvas: the axes were scaled to the data.
        foreach (var line in document.Descendants(Svg + "polyline"))
        {
            foreach (string point in line.Attribute("points")!.Value.Split(' '))
            {
                double x = double.Parse(point.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture);
                Assert.InRange(x, 0, 760);
            }
        }
    }

    [Fact]
    public void Plot_LineThatIsNotARecord_FailsNamingTheLine()
    {
        string log = PathOf("bad.jsonl");
        File.WriteAllText(log, "{\"step\": 1, \"loss\": 3.1, \"time_s\": 0.1}\nnot json\n");
        var result = Cli.Run("plot", "--log", log, "--svg", PathOf("x.svg"));
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Err);
        Assert.Contains("line 2", result.Err);
        Assert.Contains("hint: ", result.Err);
        Assert.False(File.Exists(PathOf("x.svg")));
    }

    [Fact]
    public void LossChart_NonFiniteLosses_AreAGap_AndControlCharactersInTheTitleDoNotBreakTheSvg()
    {
        var records = Enumerable.Range(1, 20).Select(i => new Plots.StepRecord(i, i, i is >= 8 and <= 10 ? double.NaN : 3.0 - i * 0.01, null)).ToList();
        var withGap = XDocument.Parse(Plots.LossPlot.Svg(records, "run \u0001 <a&b>"));
        var whole = XDocument.Parse(Plots.LossPlot.Svg(records.Select(r => r with { Loss = double.IsNaN(r.Loss) ? 2.9 : r.Loss }).ToList(), "run"));
        // Each chart's train line breaks in two around the NaN steps instead of running flat across them.
        Assert.Equal(whole.Descendants(Svg + "polyline").Count() + 2, withGap.Descendants(Svg + "polyline").Count());
        Assert.Contains(withGap.Descendants(Svg + "text"), t => t.Value == "run  <a&b>");
    }

    [Theory]
    [InlineData(3.0, 3.000000000000001, 1, 2)]            // held-out losses a rounding apart
    [InlineData(3.0, 3.0, 9007199254740994, 9007199254740994)] // one step near 2^53, where step + 1 rounds away
    public async Task Plot_RangesOfAFewUlp_StillDrawTheChart(double firstLoss, double secondLoss, long firstStep, long secondStep)
    {
        // The axis ticks once stepped by an amount that adding no longer changed: the plot never finished.
        string log = PathOf("flat.jsonl");
        File.WriteAllText(log, FormattableString.Invariant(
            $"{{\"step\": {firstStep}, \"loss\": {firstLoss:R}, \"time_s\": 1.0, \"val_loss\": {firstLoss:R}}}\n{{\"step\": {secondStep}, \"loss\": {secondLoss:R}, \"time_s\": 2.0, \"val_loss\": {secondLoss:R}}}\n"));
        var result = await Task.Run(() => Cli.Run("plot", "--log", log, "--svg", PathOf("flat.svg"))).WaitAsync(TimeSpan.FromSeconds(60));
        Cli.AssertSucceeded(result);
        Assert.Equal(Svg + "svg", XDocument.Load(PathOf("flat.svg")).Root!.Name);
    }

    [Fact]
    public void Plot_MissingLog_FailsWithErrorAndHint()
    {
        var result = Cli.Run("plot", "--log", PathOf("missing.jsonl"), "--svg", PathOf("x.svg"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no such file", result.Err);
    }
}

public class ProgressTests
{
    [Fact]
    public void Live_RedrawsOneLineInPlace_AndPrintsMessagesAboveIt()
    {
        var error = new StringWriter();
        var progress = new global::CharRnn.Runner.Cli.Progress(error, live: true);
        progress.Update(0.0, 0.25, "step 1", force: true);
        progress.Update(0.1, 0.30, "step 2");            // too soon after the last redraw: skipped
        progress.Update(0.5, 0.50, "step 3");
        progress.Message("saved");
        progress.Update(0.6, 1.0, "step 4", force: true);
        progress.Finish();
        string text = error.ToString();
        Assert.Contains("\r[#####...............]  25% step 1", text);
        Assert.DoesNotContain("step 2", text);
        Assert.Contains("\r[##########..........]  50% step 3", text);
        Assert.Contains("saved" + Environment.NewLine, text);
        Assert.Contains("[####################] 100% step 4", text);
        Assert.EndsWith(Environment.NewLine, text);
        Assert.Single(text.Split(Environment.NewLine), l => l.Contains("saved")); // the message has a line of its own
    }

    [Fact]
    public void Redirected_PrintsPlainLinesEveryTwoSeconds()
    {
        var error = new StringWriter();
        var progress = new global::CharRnn.Runner.Cli.Progress(error, live: false);
        progress.Update(0.0, 0.1, "a", force: true);
        progress.Update(1.0, 0.2, "b");
        progress.Update(2.5, 0.3, "c");
        progress.Finish();
        Assert.Equal($"a{Environment.NewLine}c{Environment.NewLine}", error.ToString());
        Assert.DoesNotContain("\r", error.ToString());
    }
}

public class BenchTests
{
    [Fact]
    public void Bench_Json_ReportsThroughputFlopsAndPeakShare()
    {
        var result = Cli.Run("bench", "--workload", "W4", "--seconds", "0.2", "--json");
        Cli.AssertSucceeded(result);
        using var json = System.Text.Json.JsonDocument.Parse(result.Out);
        var root = json.RootElement;
        Assert.True(root.GetProperty("fma_peak_gflops_1_thread").GetDouble() > 0);
        var w4 = Assert.Single(root.GetProperty("workloads").EnumerateArray());
        Assert.Equal("W4", w4.GetProperty("workload").GetString());
        Assert.True(w4.GetProperty("chars_per_s").GetDouble() > 0);
        Assert.True(w4.GetProperty("best_window_chars_per_s").GetDouble() >= w4.GetProperty("chars_per_s").GetDouble());
        Assert.InRange(w4.GetProperty("peak_share").GetDouble(), 0.0, 1.5); // a share of the peak measured in the same run
        Assert.Equal(System.Text.Json.JsonValueKind.Null, w4.GetProperty("thread_wait_share").ValueKind); // training only
    }

    [Fact]
    public void Bench_TrainingOnTwoThreads_ReportsTheirWaitingShare()
    {
        var result = Cli.Run("bench", "--workload", "W2", "--seconds", "0.3", "--threads", "2");
        Cli.AssertSucceeded(result);
        string row = Assert.Single(result.Out.Split(Environment.NewLine), line => line.StartsWith("W2 "));
        string waiting = row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^2..] is [var share, "%"] ? share : "";
        Assert.InRange(double.Parse(waiting, System.Globalization.CultureInfo.InvariantCulture), 0, 100);
        Assert.Contains("waiting: the training threads' share of the parallel phases spent handing off or waiting for the slowest", result.Out);
    }

    [Fact]
    public void Bench_UnknownWorkload_FailsWithErrorAndHint()
    {
        var result = Cli.Run("bench", "--workload", "W9");
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: --workload 'W9' is not a workload", result.Err);
        Assert.Contains("hint: use W1, W2, W3, W4, W3-bf16, W4-bf16, W3-int8, W4-int8 or all", result.Err);
    }
}
