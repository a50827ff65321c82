// A corpus above the streaming threshold is never held in memory: `train` tokenises it to a file beside the
// output, trains and validates from it, and removes the token file at the end. The threshold (64 MiB) is
// lowered for the test through CHARRNN_STREAM_FROM_BYTES in a child process, so no other test sees it.
using System.Diagnostics;
using System.Text;
using CharRnn.Engine.IO;

namespace CharRnn.Runner.Tests;

public sealed class StreamingTests : IDisposable
{
    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    [Fact]
    public void LargeCorpus_IsStreamedFromATokenFile_AndTrains()
    {
        string corpus = Path.Combine(_directory, "large.txt");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat(Cli.SmallCorpus, 1500)), new UTF8Encoding(false)); // ~3 MB
        string model = Path.Combine(_directory, "m.safetensors");
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { Path.Combine(AppContext.BaseDirectory, "charrnn.dll"), "train", "--corpus", corpus, "--layers", "1", "--hidden", "16",
            "--batch", "8", "--seq", "16", "--steps", "6", "--val-every", "3", "--sample-length", "0", "--out", model })
            info.ArgumentList.Add(a);
        info.Environment["CHARRNN_STREAM_FROM_BYTES"] = "1000000";
        using var child = Process.Start(info)!;
        string err = child.StandardError.ReadToEnd();
        Assert.True(child.WaitForExit(120_000));
        Assert.True(child.ExitCode == 0, err);
        Assert.Contains("(streamed from a token file", err);
        Assert.False(File.Exists(model + ".tokens"), "the token file was left behind");
        var loaded = Checkpoint.Load(model);
        Assert.Equal("6", SafeTensorsFile.Read(Path.Combine(_directory, "m.last.safetensors")).Metadata["train.resume.step"]);
        Assert.True(loaded.Metadata.ContainsKey("val.nats_per_char"));
    }
}
