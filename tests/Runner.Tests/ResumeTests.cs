// `train --resume`: N steps, stop, resume to N+M gives bit-identical parameters, optimizer state and
// per-step losses to N+M steps in one go (two threads, both kinds of dropout on); contradicting shapes, a
// different alphabet and a model without training state are refused with what differs; allowed changes
// are reported.
using System.Text;
using System.Text.Json;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Runner.Tests;

public sealed class ResumeTests : IDisposable
{
    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private string Corpus(string text = "")
    {
        string path = PathOf("small.txt");
        File.WriteAllText(path, text.Length > 0 ? text : Cli.SmallCorpus, new UTF8Encoding(false));
        return path;
    }

    private string[] Train(string @out, params string[] extra) =>
        ["train", "--corpus", Corpus(), "--layers", "2", "--hidden", "16", "--seq", "8", "--batch", "4", "--threads", "2",
         "--lr-schedule", "constant", "--val-every", "5", "--sample-length", "0", "--out", PathOf(@out), .. extra];

    private static double[] Losses(string log) =>
        File.ReadLines(log).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("loss").GetDouble()).ToArray();

    private static void AssertSameTensors(string expectedPath, string actualPath)
    {
        var expected = SafeTensorsFile.Read(expectedPath);
        var actual = SafeTensorsFile.Read(actualPath);
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        foreach (var tensor in expected.Tensors)
            Assert.True(tensor.Data.Span.SequenceEqual(actual.Find(tensor.Name)!.Data.Span), $"tensor {tensor.Name} differs");
    }

    [Fact]
    public void StopAndResume_IsBitIdenticalToOneRun()
    {
        Cli.AssertSucceeded(Cli.Run(Train("whole.safetensors", "--steps", "24")));
        Cli.AssertSucceeded(Cli.Run(Train("split.safetensors", "--steps", "13")));
        var resumed = Cli.Run("train", "--resume", PathOf("split.last.safetensors"), "--steps", "24", "--out", PathOf("split.safetensors"), "--sample-length", "0");
        Cli.AssertSucceeded(resumed);
        Assert.Contains("at step 13 ", resumed.Err);

        // The last-state checkpoints at step 24: every model and train.* tensor equal, bit for bit.
        AssertSameTensors(PathOf("whole.last.safetensors"), PathOf("split.last.safetensors"));
        Assert.Equal("24", SafeTensorsFile.Read(PathOf("split.last.safetensors")).Metadata["train.resume.step"]);
        // The resumed run appended to the log: 24 per-step losses, identical to the uninterrupted run's.
        Assert.Equal(Losses(PathOf("whole.safetensors.metrics.jsonl")), Losses(PathOf("split.safetensors.metrics.jsonl")));
        // Its wall time runs on from where the first run's left off, so the chart against time is one line.
        double[] times = File.ReadLines(PathOf("split.safetensors.metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("time_s").GetDouble()).ToArray();
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second >= pair.First, $"time_s went back from {pair.First} to {pair.Second}"));
    }

    [Fact]
    public void Resume_WithChangedLearningRate_ReportsTheChange()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", "8", "--lr", "0.001", "--out", PathOf("m.safetensors"), "--sample-length", "0");
        Cli.AssertSucceeded(result);
        Assert.Contains("--lr 0.003 -> 0.001", result.Err);
        Assert.Contains("--steps 5 -> 8", result.Err);
    }

    [Theory]
    [InlineData("--hidden", "32", "--hidden 32 contradicts")]
    [InlineData("--batch", "8", "--batch 8 contradicts")]
    [InlineData("--cell", "gru", "--cell gru contradicts")]
    public void Resume_WithContradictingShape_IsRefused(string option, string value, string fragment)
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), option, value, "--steps", "8", "--out", PathOf("m.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains(fragment, result.Err);
        Assert.Contains("trained with " + option, result.Err);
        Assert.Contains("hint: ", result.Err);
    }

    [Fact]
    public void Resume_OnACorpusWithAnotherAlphabet_IsRefusedListingTheDifference()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        string other = PathOf("other.txt");
        File.WriteAllText(other, Cli.SmallCorpus + "Zebra!\n", new UTF8Encoding(false));
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--corpus", other, "--steps", "8", "--out", PathOf("m.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("vocabulary differs", result.Err);
        Assert.Contains("only in the corpus: '!Z'", result.Err);
    }

    [Fact]
    public void Resume_FromAModelWithoutTrainingState_IsRefused()
    {
        var vocabulary = Vocabulary.FromText(Cli.SmallCorpus);
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, vocabulary.Count, 16, 2));
        model.InitializeUniform(new Rng(1));
        Checkpoint.Save(PathOf("bare.safetensors"), model, vocabulary);
        var result = Cli.Run("train", "--resume", PathOf("bare.safetensors"), "--corpus", Corpus(), "--out", PathOf("m.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no training state", result.Err);
        Assert.Contains("--init-from", result.Err);
    }

    /// <summary>The checkpoint at path rewritten with edited metadata and train.* tensors (the checksum key dropped
    /// when a tensor changes: files without one, such as PyTorch's, load unverified).</summary>
    private static void Rewrite(string path, Action<Dictionary<string, string>> editMetadata, Action<string, float[]>? editTensor = null)
    {
        var file = SafeTensorsFile.Read(path);
        var metadata = new Dictionary<string, string>(file.Metadata);
        editMetadata(metadata);
        var tensors = file.Tensors.Select(t => (t.Name, Shape: t.Shape.Select(d => (int)d).ToArray(), Data: SafeTensorsFile.ToSingle(t))).ToList();
        if (editTensor != null)
        {
            foreach (var t in tensors) editTensor(t.Name, t.Data);
            metadata.Remove("charrnn.sha256");
        }
        SafeTensorsFile.WriteAtomic(path, metadata, tensors.Select(t => (t.Name, t.Shape, (ReadOnlyMemory<float>)t.Data)));
    }

    [Theory]
    [InlineData("train.batch", "0", "metadata 'train.batch' is not a positive integer")]
    [InlineData("train.seq", "-8", "metadata 'train.seq' is not a positive integer")]
    [InlineData("train.lr", "NaN", "metadata 'train.lr' is not a positive number")]
    [InlineData("train.dropout", "1.5", "metadata 'train.dropout' is not a number in [0, 1)")]
    [InlineData("train.val_every", "0", "metadata 'train.val_every' is not a positive integer")]
    [InlineData("train.time_limit_s", "1e30", "metadata 'train.time_limit_s' is not a positive number of seconds")]
    public void Resume_WithADamagedSetting_IsRefusedInOneLine(string key, string value, string message)
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        Rewrite(PathOf("m.last.safetensors"), metadata => metadata[key] = value);
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", "8", "--sample-length", "0");
        Cli.AssertUserError(result, message);
        Assert.Contains("the checkpoint is damaged", result.Err);
    }

    [Fact]
    public void Resume_WhenTheRecordedCorpusHasMoved_AsksForItsNewPlace()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        File.Move(PathOf("small.txt"), PathOf("moved.txt"));
        Cli.AssertUserError(Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", "8", "--sample-length", "0"), "which is no longer there");
        Cli.AssertSucceeded(Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--corpus", PathOf("moved.txt"), "--steps", "8", "--sample-length", "0"));
    }

    [Fact]
    public void Resume_WithANegativeSecondMoment_IsRefused()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        Rewrite(PathOf("m.last.safetensors"), _ => { }, (name, data) => { if (name == "train.adam.v") data[3] = -1f; });
        Cli.AssertUserError(Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", "8", "--sample-length", "0"),
            "training state tensor 'train.adam.v' holds -1 at 3");
    }

    [Fact]
    public void Resume_FromTheBest_WhenTheNewerLastIsDamaged_GoesOnWithANote()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "10")));
        File.WriteAllBytes(PathOf("m.last.safetensors"), File.ReadAllBytes(PathOf("m.last.safetensors"))[..100]); // truncated
        var result = Cli.Run("train", "--resume", PathOf("m.safetensors"), "--steps", "12", "--sample-length", "0");
        Cli.AssertSucceeded(result);
        Assert.Contains("cannot be read", result.Err);
    }

    [Fact]
    public void Resume_AtTheEnd_AsksForMoreSteps()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--out", PathOf("m.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("already at step 5 of 5", result.Err);
    }

    [Fact]
    public void Resume_WithoutOut_WritesBesideTheCheckpoint_NotInTheCurrentDirectory()
    {
        Cli.AssertSucceeded(Cli.Run(Train("m.safetensors", "--steps", "5")));
        var result = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", "8");
        Cli.AssertSucceeded(result);
        Assert.Equal("8", SafeTensorsFile.Read(PathOf("m.last.safetensors")).Metadata["train.resume.step"]);
        Assert.Equal(8, File.ReadLines(PathOf("m.safetensors.metrics.jsonl")).Count());
        Assert.False(File.Exists("alice.last.safetensors"), "the resumed run wrote into the current directory");
    }

    [Fact]
    public void Resume_WithOnlyATimeLimit_KeepsTheScheduleAndItsStepCount()
    {
        // A cosine run over 100000 steps stopped by its time limit, resumed with a time limit alone.
        string[] first = ["train", "--corpus", Corpus(), "--layers", "1", "--hidden", "8", "--seq", "8", "--batch", "4", "--threads", "1",
            "--steps", "100000", "--time-limit", "1s", "--sample-length", "0", "--out", PathOf("t.safetensors")];
        Cli.AssertSucceeded(Cli.Run(first));
        var result = Cli.Run("train", "--resume", PathOf("t.last.safetensors"), "--time-limit", "1s");
        Cli.AssertSucceeded(result);
        var resumed = SafeTensorsFile.Read(PathOf("t.last.safetensors")).Metadata;
        Assert.Equal("100000", resumed["train.total_steps"]);
        Assert.Equal("cosine", resumed["train.lr_schedule"]);
    }

    [Fact]
    public void LrMinAboveLr_IsRefused()
    {
        var result = Cli.Run("train", "--corpus", Corpus(), "--batch", "4", "--seq", "8", "--steps", "5", "--lr", "0.001", "--lr-min", "0.01", "--out", PathOf("m.safetensors"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: --lr-min 0.01 is above --lr 0.001", result.Err);
    }
}
