// Every bad input a user can hand the runner, with the exact two lines it answers: `error: ...` saying what
// is wrong (with the path, offset, characters or numbers involved) and `hint: ...` saying what to do. One
// row per case; each row is its own test. {d} stands for the test's scratch directory.
using System.Text;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Runner.Tests;

public sealed class BadInputTableTests : IDisposable
{
    private const string ModelHint = "hint: --model needs a safetensors checkpoint written by 'charrnn train' or in the same layout by PyTorch";
    private const string CorpusHint = "hint: --corpus needs a UTF-8 text file with at least a few characters";

    public static TheoryData<string, string[], string, string> Table() => new()
    {
        { "missing file", ["train", "--corpus", "{d}/missing.txt"], "error: {d}/missing.txt: no such file", "hint: check the path given to --corpus" },
        { "directory instead of file", ["train", "--corpus", "{d}/folder"], "error: {d}/folder: is a directory, not a text file", CorpusHint },
        { "empty corpus", ["train", "--corpus", "{d}/empty.txt"], "error: {d}/empty.txt: the file is empty", CorpusHint },
        { "binary file", ["train", "--corpus", "{d}/binary.txt"], "error: {d}/binary.txt: looks binary (NUL byte at offset 2), not UTF-8 text", CorpusHint },
        { "invalid UTF-8", ["train", "--corpus", "{d}/latin1.txt"], "error: {d}/latin1.txt: invalid UTF-8 at byte offset 3", CorpusHint },
        { "corpus too small for one window", ["train", "--corpus", "{d}/tiny.txt"],
            "error: {d}/tiny.txt: 9 training characters is too few for one window of --batch 32 x --seq 64 (needs at least 2049)", "hint: use a smaller --batch or --seq, or a longer corpus" },
        { "prime outside the vocabulary", ["sample", "--model", "{d}/good.safetensors", "--prime", "XYZ"],
            "error: --prime has characters the model never saw: 'X' (U+0058), 'Y' (U+0059), 'Z' (U+005A)", "hint: remove them from the prime, or train on a corpus that contains them" },
        { "truncated checkpoint", ["sample", "--model", "{d}/truncated.safetensors"],
            "error: {d}/truncated.safetensors: not a valid safetensors file: tensor 'head.weight' ends at byte 4320 of a 4096-byte data section (truncated?)", ModelHint },
        { "wrong magic (header length)", ["sample", "--model", "{d}/magic.safetensors"],
            "error: {d}/magic.safetensors: not a valid safetensors file: header length 18446744073709551615 is outside 2..104857600", ModelHint },
        { "header is not JSON", ["sample", "--model", "{d}/json.safetensors"],
            "error: {d}/json.safetensors: not a valid safetensors file: header is not JSON ('#' is an invalid start of a value. LineNumber: 0 | BytePositionInLine: 0.)", ModelHint },
        { "offsets outside the file", ["sample", "--model", "{d}/offsets.safetensors"],
            "error: {d}/offsets.safetensors: not a valid safetensors file: tensor 'lstm.weight_ih_l0' ends at byte 1000000000 of a 4396-byte data section (truncated?)", ModelHint },
        { "shapes inconsistent with metadata", ["sample", "--model", "{d}/shape.safetensors"],
            "error: {d}/shape.safetensors: tensor 'lstm.weight_ih_l0' has shape [32, 19]; layers=1, hidden=9, vocab=19 need [36, 19]", ModelHint },
        { "unknown format version", ["sample", "--model", "{d}/version.safetensors"],
            "error: {d}/version.safetensors: unknown checkpoint format version '7'; this build reads version 1", ModelHint },
        { "zero size", ["train", "--corpus", "{d}/ok.txt", "--hidden", "0"], "error: --hidden must be a positive integer, got 0", "hint: e.g. --hidden 256" },
        { "negative size", ["train", "--corpus", "{d}/ok.txt", "--batch", "-4"], "error: --batch must be a positive integer, got -4", "hint: e.g. --batch 32" },
        { "zero layers", ["train", "--corpus", "{d}/ok.txt", "--layers", "0"], "error: --layers must be a positive integer, got 0", "hint: e.g. --layers 2" },
        { "a word for a count", ["train", "--corpus", "{d}/ok.txt", "--steps", "many"], "error: --steps expects a whole number, got 'many'", "hint: run 'charrnn train --help' for the options" },
        { "a fraction for a count", ["train", "--corpus", "{d}/ok.txt", "--hidden", "1.5"], "error: --hidden expects a whole number, got '1.5'", "hint: run 'charrnn train --help' for the options" },
        { "a count out of range", ["train", "--corpus", "{d}/ok.txt", "--batch", "99999999999"],
            "error: --batch expects a whole number from -2147483648 to 2147483647, got '99999999999'", "hint: run 'charrnn train --help' for the options" },
        { "a negative seed", ["sample", "--model", "{d}/good.safetensors", "--seed", "-1"],
            "error: --seed expects a whole number from 0 to 18446744073709551615, got '-1'", "hint: run 'charrnn sample --help' for the options" },
        { "a word for a number", ["train", "--corpus", "{d}/ok.txt", "--lr", "fast"], "error: --lr expects a number, got 'fast'", "hint: run 'charrnn train --help' for the options" },
        { "a model too large for one array", ["train", "--corpus", "{d}/ok.txt", "--layers", "17", "--hidden", "4096"],
            "error: --layers 17 x --hidden 4096 make 2,215,538,707 parameters, more than one array holds (2,147,483,591)", "hint: use fewer --layers or a smaller --hidden" },
        { "a model far too large", ["train", "--corpus", "{d}/ok.txt", "--layers", "3", "--hidden", "999999999"],
            "error: --layers 3 x --hidden 999999999 make over 9.2e18 parameters, more than one array holds (2,147,483,591)", "hint: use fewer --layers or a smaller --hidden" },
        { "a window too large for one array", ["train", "--corpus", "{d}/large.txt", "--batch", "1000", "--seq", "1000", "--hidden", "600"],
            "error: --batch 1000 x --seq 1000 x 2400 gates make 2,400,000,000 values in one activation buffer, more than one array holds (2,147,483,591)", "hint: use a smaller --batch or --seq" },
        { "a gate matrix too large for one array", ["train", "--corpus", "{d}/ok.txt", "--layers", "1", "--hidden", "16384"],
            "error: --layers 1 x --hidden 16384: hidden size 16384 with a vocabulary of 19 makes a weight matrix of 1073741824 values, too large for one parameter slab", "hint: use fewer --layers or a smaller --hidden" },
        { "a probe too large for one array", ["gradflow", "--corpus", "{d}/ok.txt", "--distance", "70000"],
            "error: --windows 32 x --distance 70000 x 1024 gates of lstm fb=0 (init) make 2,293,760,000 values in one activation buffer, more than one array holds (2,147,483,591)", "hint: use fewer --windows or a smaller --distance" },
        { "an empty output path", ["train", "--corpus", "{d}/ok.txt", "--out", ""], "error: --out needs a file name, got ''", "hint: give --out the path of the file to write" },
        { "an empty corpus path", ["train", "--corpus", ""], "error: --corpus needs a file name, got ''", "hint: give --corpus the path of a UTF-8 text file" },
        { "a time limit past TimeSpan", ["train", "--corpus", "{d}/ok.txt", "--time-limit", "1e9h"], "error: --time-limit '1e9h' is too long (over 3,000 years)", "hint: give a number with a unit: s, m or h, e.g. 10m" },
        { "zero clip", ["train", "--corpus", "{d}/ok.txt", "--clip", "0"], "error: --clip must be a positive number, got 0", "hint: e.g. --clip 5" },
        { "negative learning rate", ["train", "--corpus", "{d}/ok.txt", "--lr", "-0.5"], "error: --lr must be a positive number, got -0.5", "hint: e.g. --lr 0.003" },
        { "dropout outside [0, 1)", ["train", "--corpus", "{d}/ok.txt", "--dropout", "1"], "error: --dropout must be in [0, 1), got 1", "hint: e.g. --dropout 0.25 drops a quarter of the units while training" },
        { "negative temperature", ["sample", "--model", "{d}/good.safetensors", "--temperature", "-1"],
            "error: --temperature must be zero or positive, got -1", "hint: use 1 for the model's own distribution, 0.5 for safer text, 0 for greedy" },
        { "output in a missing directory", ["train", "--corpus", "{d}/ok.txt", "--out", "{d}/nodir/m.safetensors"],
            "error: {d}/nodir/m.safetensors: directory '{d}/nodir' does not exist", "hint: create it first (mkdir -p {d}/nodir) or choose another --out" },
        { "no write permission", ["train", "--corpus", "{d}/ok.txt", "--out", "/sys/m.safetensors"],
            "error: /sys/m.safetensors: cannot write to '/sys' (Access to the path '/sys/.charrnn-write-test-{pid}' is denied.)", "hint: choose a writable location for --out" },
    };

    private readonly string _directory = Cli.NewTempDirectory();

    public void Dispose() => Cli.DeleteDirectory(_directory);

    private string PathOf(string name) => Path.Combine(_directory, name);

    /// <summary>The files the table refers to: corpora of every kind and checkpoints damaged in every way.</summary>
    private void WriteInputs()
    {
        const string Ok = "hello world, this is a small corpus.\n";
        File.WriteAllText(PathOf("ok.txt"), string.Concat(Enumerable.Repeat(Ok, 80)), new UTF8Encoding(false));
        File.WriteAllText(PathOf("large.txt"), string.Concat(Enumerable.Repeat(Ok, 1_200_000 / Ok.Length + 1)), new UTF8Encoding(false)); // room for one 1000 x 1000 window
        Directory.CreateDirectory(PathOf("folder"));
        File.WriteAllBytes(PathOf("empty.txt"), []);
        File.WriteAllBytes(PathOf("binary.txt"), "ab\0cd"u8.ToArray());
        File.WriteAllBytes(PathOf("latin1.txt"), [(byte)'a', (byte)'b', (byte)'c', 0xFF, (byte)'d']);
        File.WriteAllText(PathOf("tiny.txt"), "tiny corpus", new UTF8Encoding(false));

        var vocabulary = Vocabulary.FromText(Ok);
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, vocabulary.Count, 8, 1));
        model.InitializeUniform(new Rng(1));
        Checkpoint.Save(PathOf("good.safetensors"), model, vocabulary);
        byte[] good = File.ReadAllBytes(PathOf("good.safetensors"));
        int headerLength = (int)BitConverter.ToUInt64(good, 0);
        string header = Encoding.UTF8.GetString(good, 8, headerLength);

        File.WriteAllBytes(PathOf("truncated.safetensors"), good[..(good.Length - 300)]);
        byte[] magic = (byte[])good.Clone();
        Array.Fill(magic, (byte)0xFF, 0, 8);
        File.WriteAllBytes(PathOf("magic.safetensors"), magic);
        WithHeader("json.safetensors", "#" + header[1..]);
        WithHeader("offsets.safetensors", ReplaceFirstOffsetEnd(header));
        WithHeader("shape.safetensors", header.Replace("\"hidden\":\"8\"", "\"hidden\":\"9\""));
        WithHeader("version.safetensors", header.Replace("\"charrnn.format\":\"1\"", "\"charrnn.format\":\"7\""));

        void WithHeader(string name, string newHeader)
        {
            byte[] text = Encoding.UTF8.GetBytes(newHeader.PadRight((newHeader.Length + 7) / 8 * 8));
            File.WriteAllBytes(PathOf(name), [.. BitConverter.GetBytes((ulong)text.Length), .. text, .. good[(8 + headerLength)..]]);
        }
    }

    /// <summary>The header with the first tensor's end offset pushed to 1e9 bytes.</summary>
    private static string ReplaceFirstOffsetEnd(string header)
    {
        int at = header.IndexOf("\"data_offsets\":[", StringComparison.Ordinal) + "\"data_offsets\":[".Length;
        int comma = header.IndexOf(',', at), close = header.IndexOf(']', comma);
        return header[..(comma + 1)] + "1000000000" + header[close..];
    }

    [Theory, MemberData(nameof(Table))]
    public void BadInput_AnswersWithExactlyThisErrorAndHint(string @case, string[] args, string error, string hint)
    {
        if (@case == "no write permission" && !OperatingSystem.IsLinux()) return; // /sys refuses writes even to root on Linux
        WriteInputs();
        string Fill(string s) => s.Replace("{d}", _directory).Replace("{pid}", Environment.ProcessId.ToString());
        string[] filled = [.. args.Select(Fill), .. (args[0] == "train" && !args.Contains("--out") ? new[] { "--out", PathOf("m.safetensors") } : [])];
        var result = Cli.Run(filled);
        Assert.True(result.ExitCode != 0, $"{@case}: exit code 0");
        Assert.Equal("", result.Out);
        Assert.Equal(Fill(error) + Environment.NewLine + Fill(hint) + Environment.NewLine, result.Err);
        Assert.False(File.Exists(PathOf("m.safetensors")), $"{@case}: a failed run wrote a checkpoint");
    }
}
