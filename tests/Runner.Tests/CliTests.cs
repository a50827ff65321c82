// The charrnn command line, run in-process through Program.Run with captured output. Every user error is a
// non-zero exit code and exactly two lines on standard error, "error: ..." then "hint: ...", with no stack
// trace; the happy paths train and log, sample reproducibly, evaluate as one JSON object, and fine-tune.
using System.Text;
using System.Text.Json;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;
using CharRnn.Runner.Commands;

namespace CharRnn.Runner.Tests;

public sealed record RunResult(int ExitCode, string Out, string Err);

internal static class Cli
{
    /// <summary>About 2000 characters of plain English; no 'Z' anywhere, which the prime tests rely on.</summary>
    public static readonly string SmallCorpus = string.Concat(Enumerable.Repeat(
        "The cat sat on the mat. The dog ran to the park.\nThe sun was warm and the sky was blue.\n", 23));

    public static RunResult Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int exitCode = global::CharRnn.Runner.Program.Run(args, output, error);
        return new RunResult(exitCode, output.ToString(), error.ToString());
    }

    public static string NewTempDirectory()
    {
        string path = Path.Combine(Path.GetTempPath(), "charrnn-cli-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static void AssertSucceeded(RunResult result)
    {
        if (result.ExitCode != 0) Assert.Fail($"exit code {result.ExitCode}\nstdout:\n{result.Out}\nstderr:\n{result.Err}");
    }

    /// <summary>Non-zero exit, nothing on stdout, exactly "error: ..." and "hint: ..." on stderr, no stack trace.</summary>
    public static void AssertUserError(RunResult result, string fragment, int? exitCode = null)
    {
        if (result.ExitCode == 0) Assert.Fail($"expected a failure but the exit code is 0\nstdout:\n{result.Out}\nstderr:\n{result.Err}");
        if (exitCode is int expectedCode) Assert.Equal(expectedCode, result.ExitCode);
        Assert.Equal("", result.Out);
        string newline = Environment.NewLine;
        Assert.EndsWith(newline, result.Err);
        string[] lines = result.Err[..^newline.Length].Split(newline);
        if (lines.Length != 2) Assert.Fail($"expected exactly 2 lines on stderr, got {lines.Length}:\n{result.Err}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.StartsWith("hint: ", lines[1]);
        Assert.DoesNotContain("   at ", result.Err);
        Assert.Contains(fragment, lines[0]);
        Assert.True(lines[1].Trim().Length > "hint:".Length, "the hint is empty");
    }
}

/// <summary>One small training run shared by the happy-path tests (a few hundred milliseconds).</summary>
public sealed class TrainedModel : IDisposable
{
    public TrainedModel()
    {
        Folder = Cli.NewTempDirectory();
        Corpus = Path.Combine(Folder, "small.txt");
        File.WriteAllText(Corpus, Cli.SmallCorpus, new UTF8Encoding(false));
        ModelPath = Path.Combine(Folder, "m.safetensors");
        Train = Cli.Run("train", "--corpus", Corpus, "--layers", "1", "--hidden", "16", "--seq", "8", "--batch", "4",
            "--steps", "30", "--val-every", "10", "--sample-length", "20", "--out", ModelPath);
    }

    public string Folder { get; }
    public string Corpus { get; }
    public string ModelPath { get; }
    public RunResult Train { get; }

    public void Dispose() => Cli.DeleteDirectory(Folder);
}

public sealed class CliTests : IClassFixture<TrainedModel>, IDisposable
{
    private readonly TrainedModel _trained;
    private readonly string _directory = Cli.NewTempDirectory();

    public CliTests(TrainedModel trained) => _trained = trained;

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string WriteText(string name, string text)
    {
        string path = PathOf(name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    private string WriteBytes(string name, byte[] bytes)
    {
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A checkpoint over the small corpus's alphabet, written by the engine directly (no training).</summary>
    private string WriteModel(string name = "good.safetensors")
    {
        var vocabulary = Vocabulary.FromText(Cli.SmallCorpus);
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, vocabulary.Count, 8, 1));
        model.InitializeUniform(new Rng(1));
        string path = PathOf(name);
        Checkpoint.Save(path, model, vocabulary);
        return path;
    }

    /// <summary>`train` with the given options and an --out in this test's directory: fails, writes no checkpoint.</summary>
    private void AssertTrainFails(string fragment, params string[] options)
    {
        string outPath = PathOf("m.safetensors");
        string[] args = ["train", .. options, "--out", outPath];
        Cli.AssertUserError(Cli.Run(args), fragment);
        Assert.False(File.Exists(outPath), "a failed run wrote a checkpoint");
        Assert.False(File.Exists(outPath + ".metrics.jsonl"), "a failed run wrote a metrics log");
    }

    // ---- train: user errors ------------------------------------------------------------------------------

    [Fact]
    public void Train_MissingCorpus_FailsWithErrorAndHint()
    {
        string missing = PathOf("missing.txt");
        AssertTrainFails("no such file", "--corpus", missing);
        AssertTrainFails(missing, "--corpus", missing);
    }

    [Fact]
    public void Train_CorpusIsDirectory_FailsWithErrorAndHint()
    {
        string directory = PathOf("corpus-dir");
        Directory.CreateDirectory(directory);
        AssertTrainFails("is a directory", "--corpus", directory);
    }

    [Fact]
    public void Train_EmptyCorpus_FailsWithErrorAndHint()
    {
        AssertTrainFails("the file is empty", "--corpus", WriteBytes("empty.txt", []));
    }

    [Fact]
    public void Train_BinaryCorpus_FailsWithErrorAndHint()
    {
        AssertTrainFails("looks binary", "--corpus", WriteBytes("binary.bin", [(byte)'a', (byte)'b', (byte)'c', 0, (byte)'d']));
    }

    [Fact]
    public void Train_InvalidUtf8Corpus_FailsNamingTheOffset()
    {
        AssertTrainFails("byte offset 3", "--corpus", WriteBytes("latin1.txt", [(byte)'a', (byte)'b', (byte)'c', 0xFF, (byte)'d']));
    }

    [Fact]
    public void Train_CorpusTooShortForDefaultWindow_FailsWithMinimum()
    {
        string tiny = WriteText("tiny.txt", "the tiny corpus text");
        Assert.Equal(20, File.ReadAllText(tiny).Length);
        AssertTrainFails("needs at least", "--corpus", tiny);
        long needed = CorpusBatches.MinimumCharacters(TrainSettings.Defaults.Batch, TrainSettings.Defaults.Seq); // B*T + 1
        AssertTrainFails($"needs at least {needed})", "--corpus", tiny);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-3")]
    public void Train_NonPositiveHidden_FailsWithErrorAndHint(string hidden)
    {
        AssertTrainFails($"--hidden must be a positive integer, got {hidden}", "--corpus", WriteText("small.txt", Cli.SmallCorpus), "--hidden", hidden);
    }

    [Fact]
    public void Train_ValFractionOne_FailsWithErrorAndHint()
    {
        AssertTrainFails("--val-fraction must be in [0, 1)", "--corpus", WriteText("small.txt", Cli.SmallCorpus), "--val-fraction", "1");
    }

    [Fact]
    public void Train_UnknownCell_FailsWithErrorAndHint()
    {
        AssertTrainFails("'banana'", "--corpus", WriteText("small.txt", Cli.SmallCorpus), "--cell", "banana");
    }

    [Fact]
    public void Train_OutInMissingDirectory_FailsBeforeTraining()
    {
        string outPath = Path.Combine(PathOf("no-such-dir"), "x.safetensors");
        var result = Cli.Run("train", "--corpus", WriteText("small.txt", Cli.SmallCorpus), "--out", outPath);
        Cli.AssertUserError(result, "does not exist");
        Assert.False(Directory.Exists(PathOf("no-such-dir")));
    }

    [Fact]
    public void Train_InitFromCheckpointWithDifferentVocabulary_FailsWithErrorAndHint()
    {
        string other = WriteText("other.txt", string.Concat(Enumerable.Repeat("xyz zyx ", 60)));
        AssertTrainFails("vocabulary", "--corpus", other, "--init-from", WriteModel(), "--seq", "8", "--batch", "4", "--steps", "3");
    }

    // ---- sample and eval: user errors --------------------------------------------------------------------

    [Fact]
    public void Sample_MissingModel_FailsWithErrorAndHint()
    {
        Cli.AssertUserError(Cli.Run("sample", "--model", PathOf("missing.safetensors")), "no such file");
    }

    [Fact]
    public void Sample_TruncatedModel_FailsWithErrorAndHint()
    {
        byte[] bytes = File.ReadAllBytes(WriteModel());
        string cut = WriteBytes("cut.safetensors", bytes[..(bytes.Length / 2)]);
        Cli.AssertUserError(Cli.Run("sample", "--model", cut, "--seed", "1"), "(truncated?)");
    }

    [Fact]
    public void Sample_PrimeOutsideVocabulary_FailsListingTheCharacters()
    {
        var result = Cli.Run("sample", "--model", WriteModel(), "--prime", "Zebra", "--seed", "1");
        Cli.AssertUserError(result, "'Z'");
        Assert.DoesNotContain("'e'", result.Err); // only the characters the model lacks are listed
    }

    [Fact]
    public void Sample_NegativeTemperature_FailsWithErrorAndHint()
    {
        Cli.AssertUserError(Cli.Run("sample", "--model", WriteModel(), "--temperature", "-1", "--seed", "1"), "--temperature");
    }

    [Fact]
    public void Eval_MissingText_FailsWithErrorAndHint()
    {
        Cli.AssertUserError(Cli.Run("eval", "--model", WriteModel(), "--text", PathOf("missing.txt")), "no such file");
    }

    [Fact]
    public void Eval_TextOutsideVocabulary_FailsWithErrorAndHint()
    {
        string text = WriteText("zulu.txt", "Zulu Zebra\n");
        Cli.AssertUserError(Cli.Run("eval", "--model", WriteModel(), "--text", text), "'Z'");
    }

    // ---- parse errors ------------------------------------------------------------------------------------

    [Fact]
    public void UnknownOption_FailsWithExitCode2()
    {
        Cli.AssertUserError(Cli.Run("train", "--bogus"), "--bogus", exitCode: 2);
    }

    [Fact]
    public void UnknownCommand_FailsWithExitCode2()
    {
        // System.CommandLine reports "Required command was not provided." first for an unknown root token.
        Cli.AssertUserError(Cli.Run("banana"), "command", exitCode: 2);
    }

    [Fact]
    public void OptionValueOfWrongType_FailsWithExitCode2()
    {
        Cli.AssertUserError(Cli.Run("train", "--hidden", "lots"), "lots", exitCode: 2);
    }

    [Fact]
    public void Sample_WithoutModel_FailsWithExitCode2()
    {
        Cli.AssertUserError(Cli.Run("sample"), "--model", exitCode: 2);
    }

    // ---- happy paths -------------------------------------------------------------------------------------

    [Fact]
    public void Train_SmallRun_WritesCheckpointAndMetricsLog()
    {
        Cli.AssertSucceeded(_trained.Train);
        var loaded = Checkpoint.Load(_trained.ModelPath);
        Assert.Equal(CellKind.Lstm, loaded.Model.Config.Cell);
        Assert.Equal(1, loaded.Model.Config.Layers);
        Assert.Equal(16, loaded.Model.Config.Hidden);
        Assert.True(loaded.Vocabulary.SameAs(Vocabulary.FromText(Cli.SmallCorpus)));

        string[] lines = File.ReadAllLines(_trained.ModelPath + ".metrics.jsonl");
        Assert.Equal(30, lines.Length);
        int validations = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            using var document = JsonDocument.Parse(lines[i]);
            JsonElement entry = document.RootElement;
            Assert.Equal(JsonValueKind.Object, entry.ValueKind);
            Assert.Equal(i + 1, entry.GetProperty("step").GetInt32());
            double loss = entry.GetProperty("loss").GetDouble();
            if (!(double.IsFinite(loss) && loss > 0)) Assert.Fail($"line {i + 1}: loss {loss}");
            if (entry.TryGetProperty("val_loss", out JsonElement validation))
            {
                validations++;
                Assert.True(validation.GetDouble() > 0, $"line {i + 1}: val_loss {validation.GetDouble()}");
            }
        }
        Assert.Equal(3, validations); // --val-every 10 over 30 steps
    }

    [Fact]
    public void Sample_SameSeedTwice_PrintsIdenticalTextStartingWithPrime()
    {
        Cli.AssertSucceeded(_trained.Train);
        string[] args = ["sample", "--model", _trained.ModelPath, "--length", "50", "--prime", "The ", "--seed", "7"];

        var first = Cli.Run(args);
        var second = Cli.Run(args);

        Cli.AssertSucceeded(first);
        Cli.AssertSucceeded(second);
        Assert.Equal(first.Out, second.Out);
        Assert.StartsWith("The ", first.Out);
        Assert.EndsWith(Environment.NewLine, first.Out);
        string text = first.Out[..^Environment.NewLine.Length];
        Assert.Equal(4 + 50, text.EnumerateRunes().Count());
    }

    [Fact]
    public void Sample_Greedy_IsIdenticalAcrossSeeds()
    {
        Cli.AssertSucceeded(_trained.Train);
        var first = Cli.Run("sample", "--model", _trained.ModelPath, "--length", "40", "--greedy", "--seed", "1");
        var second = Cli.Run("sample", "--model", _trained.ModelPath, "--length", "40", "--greedy", "--seed", "2");
        var zeroTemperature = Cli.Run("sample", "--model", _trained.ModelPath, "--length", "40", "--temperature", "0", "--seed", "3");

        Cli.AssertSucceeded(first);
        Cli.AssertSucceeded(second);
        Cli.AssertSucceeded(zeroTemperature);
        Assert.Equal(first.Out, second.Out);
        Assert.Equal(first.Out, zeroTemperature.Out);
        Assert.Equal(40, first.Out[..^Environment.NewLine.Length].EnumerateRunes().Count());
    }

    [Fact]
    public void Eval_Json_PrintsExactlyOneObjectWithNatsAndBits()
    {
        Cli.AssertSucceeded(_trained.Train);
        var result = Cli.Run("eval", "--model", _trained.ModelPath, "--text", _trained.Corpus, "--json");

        Cli.AssertSucceeded(result);
        Assert.Single(result.Out.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        using var document = JsonDocument.Parse(result.Out);
        JsonElement root = document.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        Assert.Equal(new[] { "chars", "nats_per_char", "bits_per_char" }, root.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Cli.SmallCorpus.EnumerateRunes().Count(), root.GetProperty("chars").GetInt32());
        double nats = root.GetProperty("nats_per_char").GetDouble();
        double bits = root.GetProperty("bits_per_char").GetDouble();
        if (!(double.IsFinite(nats) && nats > 0)) Assert.Fail($"nats_per_char {nats}");
        double expectedBits = nats / Math.Log(2);
        if (Math.Abs(bits - expectedBits) > 1e-12 * expectedBits) Assert.Fail($"bits_per_char {bits:R} is not nats / ln 2 = {expectedBits:R}");
    }

    [Fact]
    public void Train_InitFrom_ContinuesFromCheckpoint()
    {
        Cli.AssertSucceeded(_trained.Train);
        string outPath = PathOf("continued.safetensors");

        // --hidden and --layers are left at their defaults: the checkpoint's shape must win.
        var result = Cli.Run("train", "--corpus", _trained.Corpus, "--init-from", _trained.ModelPath, "--seq", "8", "--batch", "4",
            "--steps", "5", "--val-every", "5", "--sample-length", "0", "--out", outPath);

        Cli.AssertSucceeded(result);
        var original = Checkpoint.Load(_trained.ModelPath);
        var continued = Checkpoint.Load(outPath);
        Assert.Equal(original.Model.Config, continued.Model.Config);
        Assert.True(continued.Vocabulary.SameAs(original.Vocabulary));
        Assert.NotEqual(original.Model.Parameters, continued.Model.Parameters);
        Assert.Equal(5, File.ReadAllLines(outPath + ".metrics.jsonl").Length);
    }
}
