// The runner as a child process, interrupted: SIGTERM and SIGINT finish the step, save, print how to resume
// and exit 143/130; SIGKILL at 20 random moments (checkpoints are written every step, so many kills land
// inside a write) never leaves a checkpoint that fails to load, and every kill is followed by a resume.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using CharRnn.Engine.IO;

namespace CharRnn.Runner.Tests;

public sealed class CrashSafetyTests(Xunit.Abstractions.ITestOutputHelper log) : IDisposable
{
    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private string Corpus()
    {
        string path = PathOf("corpus.txt");
        if (!File.Exists(path)) File.WriteAllText(path, string.Concat(Enumerable.Repeat(Cli.SmallCorpus, 4)), new UTF8Encoding(false));
        return path;
    }

    /// <summary>charrnn as its own process (the built runner beside the tests), standard error captured line by line.</summary>
    private Process Start(params string[] args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "charrnn.dll"));
        foreach (string a in args) info.ArgumentList.Add(a);
        return Process.Start(info)!;
    }

    private string[] TrainArgs(params string[] extra) =>
        ["train", "--corpus", Corpus(), "--layers", "1", "--hidden", "32", "--seq", "16", "--batch", "8", "--threads", "1",
         "--val-every", "1", "--sample-length", "0", "--lr-schedule", "constant", "--steps", "1000000", "--out", PathOf("m.safetensors"), .. extra];

    /// <summary>Reads standard error until a line contains text (or the process ends); returns everything read.</summary>
    private static string ReadUntil(Process process, string text, TimeSpan timeout)
    {
        var seen = new StringBuilder();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var line = process.StandardError.ReadLineAsync();
            if (!line.Wait(timeout - clock.Elapsed) || line.Result == null) break;
            seen.AppendLine(line.Result);
            if (line.Result.Contains(text)) break;
        }
        return seen.ToString();
    }

    [Theory]
    [InlineData(15, 143, "SIGTERM")]
    [InlineData(2, 130, "SIGINT")]
    public void Signal_FinishesTheStep_SavesAndSaysHowToResume(int signal, int exitCode, string name)
    {
        if (!OperatingSystem.IsLinux()) return; // POSIX signals; CI runs Linux
        using var child = Start(TrainArgs());
        ReadUntil(child, "step ", TimeSpan.FromSeconds(60));
        Assert.Equal(0, Kill(child.Id, signal));
        string rest = child.StandardError.ReadToEnd();
        Assert.True(child.WaitForExit(60_000), "the child did not exit after the signal");
        Assert.Equal(exitCode, child.ExitCode);
        Assert.Contains($"interrupted by {name}", rest);
        Assert.Contains("resume with: charrnn train --resume " + PathOf("m.last.safetensors"), rest);
        var loaded = Checkpoint.Load(PathOf("m.last.safetensors"));
        Assert.True(TrainingCheckpoint.Has(loaded));

        // And the printed command works: it continues from the saved step.
        long saved = long.Parse(loaded.Metadata["train.resume.step"]);
        var resumed = Cli.Run("train", "--resume", PathOf("m.last.safetensors"), "--steps", (saved + 2).ToString(), "--out", PathOf("m.safetensors"));
        Cli.AssertSucceeded(resumed);
        Assert.Contains($"at step {saved} ", resumed.Err);
    }

    [Fact]
    public void Sigkill_AtTwentyRandomMoments_NeverLeavesAnUnloadableCheckpoint()
    {
        if (!OperatingSystem.IsLinux()) return;
        var random = new Random(2026);
        const int Kills = 20;
        long lastStep = 0;
        int resumes = 0;
        for (int kill = 0; kill < Kills; kill++)
        {
            bool resume = File.Exists(PathOf("m.last.safetensors"));
            using var child = Start(resume ? ["train", "--resume", PathOf("m.last.safetensors"), "--out", PathOf("m.safetensors"), "--sample-length", "0", "--val-every", "1"] : TrainArgs());
            // Let it get going (start-up, then steps with a checkpoint written after each: every validation
            // prints a status line starting "step"), then kill it mid-flight.
            // The first run is left alone until its first checkpoint exists; after that one always does.
            ReadUntil(child, resume ? "step " : "saved", TimeSpan.FromSeconds(60));
            Thread.Sleep(random.Next(50, 800));
            child.Kill(); // SIGKILL: no handler runs
            Assert.True(child.WaitForExit(30_000));

            var loaded = Checkpoint.Load(PathOf("m.last.safetensors")); // throws if a kill left it damaged
            long step = long.Parse(loaded.Metadata["train.resume.step"]);
            Assert.True(step >= lastStep, $"kill {kill}: the latest checkpoint went back from step {lastStep} to {step}");
            if (resume) resumes++;
            lastStep = step;
        }
        log.WriteLine($"{Kills} SIGKILLs, {resumes} resumes, every checkpoint loaded; the run reached step {lastStep}");
        Assert.Equal(Kills - 1, resumes);
        // Each run gets at least one step past its start before the kill can come; a fresh process spends most
        // of its life compiling, so this asks for progress, not speed.
        Assert.True(lastStep >= Kills, $"twenty runs should have made progress; the latest checkpoint is at step {lastStep}");
    }
}
