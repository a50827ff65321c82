// The streamed corpus against the in-memory path: the same alphabet, length and training windows, bit for
// bit, and the same strict UTF-8 errors, including a multi-byte character split across read chunks.
using System.Text;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Training;

namespace CharRnn.Engine.Tests.IO;

public sealed class StreamedCorpusTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "charrnn-streamed-" + Guid.NewGuid().ToString("N"));

    public StreamedCorpusTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }

    private string PathOf(string name) => Path.Combine(_directory, name);

    /// <summary>Over 2 MB of text with 1-, 2-, 3- and 4-byte characters, so some straddle the 1 MiB read chunks.</summary>
    private static string Text()
    {
        var text = new StringBuilder();
        for (int i = 0; text.Length < 2_200_000; i++) text.Append("Alice said ‘héllo’ to the 🐇 ").Append(i % 97).Append('\n');
        return text.ToString();
    }

    [Fact]
    public void Streamed_GivesTheSameAlphabetLengthAndWindowsAsInMemory()
    {
        string text = Text();
        File.WriteAllText(PathOf("c.txt"), text, new UTF8Encoding(false));
        var vocabulary = Vocabulary.FromText(text);
        int[] tokens = vocabulary.Encode(text);
        using var streamed = StreamedCorpus.Open(PathOf("c.txt"), PathOf("c.tokens"));

        Assert.True(streamed.Vocabulary.SameAs(vocabulary));
        Assert.Equal(tokens.Length, streamed.Length);
        Assert.Equal(tokens[1000..1500], streamed.ReadTokens(1000, 500));

        long trainLength = tokens.Length * 9L / 10;
        var inMemory = new CorpusBatches(tokens[..(int)trainLength], 7, 33);
        var fromFile = streamed.Windows(trainLength, 7, 33);
        Assert.Equal(inMemory.WindowsPerEpoch, fromFile.WindowsPerEpoch);
        int[] a = new int[7 * 33], b = new int[7 * 33], ta = new int[7 * 33], tb = new int[7 * 33];
        foreach (int window in new[] { 0, 1, 2, inMemory.WindowsPerEpoch / 2, inMemory.WindowsPerEpoch - 1 })
        {
            inMemory.Fill(window, a, ta);
            fromFile.Fill(window, b, tb, 0, 7);
            Assert.Equal(a, b);
            Assert.Equal(ta, tb);
            // a share of streams, as one thread of two fills it
            inMemory.Fill(window, a.AsSpan(0, 3 * 33), ta.AsSpan(0, 3 * 33), 4, 3);
            fromFile.Fill(window, b.AsSpan(0, 3 * 33), tb.AsSpan(0, 3 * 33), 4, 3);
            Assert.Equal(a[..(3 * 33)], b[..(3 * 33)]);
        }

        // A window longer than the few KiB read on the stack: the same tokens through the pooled buffer.
        const int longSteps = 5000;
        var longInMemory = new CorpusBatches(tokens[..(int)trainLength], 2, longSteps);
        var longFromFile = streamed.Windows(trainLength, 2, longSteps);
        int[] la = new int[2 * longSteps], lb = new int[2 * longSteps], lta = new int[2 * longSteps], ltb = new int[2 * longSteps];
        longInMemory.Fill(longInMemory.WindowsPerEpoch - 1, la, lta);
        longFromFile.Fill(longInMemory.WindowsPerEpoch - 1, lb, ltb, 0, 2);
        Assert.Equal(la, lb);
        Assert.Equal(lta, ltb);
    }

    [Fact]
    public void ReadTokensAndWindows_OutsideTheCorpus_AreRefused()
    {
        File.WriteAllText(PathOf("c.txt"), Text(), new UTF8Encoding(false));
        using var streamed = StreamedCorpus.Open(PathOf("c.txt"), PathOf("c.tokens"));
        // Past the end the read came back short and the rest decoded as symbol 0, a valid token.
        Assert.Throws<ArgumentOutOfRangeException>(() => streamed.ReadTokens(streamed.Length - 10, 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => streamed.ReadTokens(0, -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => streamed.Windows(streamed.Length, 0, 33)); // divided by zero
        Assert.Throws<ArgumentOutOfRangeException>(() => streamed.Windows(streamed.Length + 1, 7, 33));
        Assert.Equal(10, streamed.ReadTokens(streamed.Length - 10, 10).Length);
    }

    [Fact]
    public void Dispose_DeletesTheTokenFile()
    {
        File.WriteAllText(PathOf("c.txt"), "some text to stream\n", new UTF8Encoding(false));
        var streamed = StreamedCorpus.Open(PathOf("c.txt"), PathOf("c.tokens"));
        Assert.True(File.Exists(PathOf("c.tokens")));
        streamed.Dispose();
        Assert.False(File.Exists(PathOf("c.tokens")));
    }

    [Fact]
    public void InvalidUtf8_AfterTheFirstChunk_NamesItsByteOffset()
    {
        byte[] bytes = Encoding.UTF8.GetBytes(new string('a', (1 << 20) + 5));
        bytes[(1 << 20) + 2] = 0xFF;
        File.WriteAllBytes(PathOf("bad.txt"), bytes);
        var e = Assert.Throws<InvalidDataException>(() => StreamedCorpus.Open(PathOf("bad.txt"), PathOf("bad.tokens")));
        Assert.Contains($"invalid UTF-8 at byte offset {(1 << 20) + 2}", e.Message);
    }

    [Fact]
    public void ByteOrderMark_IsNotText_AndNulMeansBinary()
    {
        File.WriteAllBytes(PathOf("bom.txt"), [0xEF, 0xBB, 0xBF, (byte)'a', (byte)'b']);
        using (var withBom = StreamedCorpus.Open(PathOf("bom.txt"), PathOf("bom.tokens"))) Assert.Equal(2, withBom.Length);
        File.WriteAllBytes(PathOf("nul.txt"), [(byte)'a', 0, (byte)'b']);
        var e = Assert.Throws<InvalidDataException>(() => StreamedCorpus.Open(PathOf("nul.txt"), PathOf("nul.tokens")));
        Assert.Contains("looks binary (NUL byte at offset 1)", e.Message);
    }
}
