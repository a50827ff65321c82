// Reading training and evaluation text: every unusable file is an InvalidDataException (or FileNotFound) with a
// one-line reason, invalid UTF-8 is reported at its byte offset instead of being replaced, and a BOM is not
// text. Also: the vocabulary counts Unicode scalar values, so an emoji is one symbol.
using System.Text;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Tests.IO;

public sealed class TextCorpusTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "charrnn-corpus-tests-" + Guid.NewGuid().ToString("N"));

    public TextCorpusTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_directory, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void TextCorpus_EmptyFile_ThrowsInvalidData()
    {
        string path = Write("empty.txt", []);
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.ReadFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("the file is empty", e.Message);
    }

    [Fact]
    public void TextCorpus_NulByte_ThrowsInvalidDataSayingBinary()
    {
        string path = Write("binary.bin", [(byte)'a', (byte)'b', 0, (byte)'c']);
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.ReadFile(path));
        Assert.Contains("looks binary", e.Message);
        Assert.Contains("offset 2", e.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0x62, 0x63, 0xFF }, 3)]        // "abc" then a byte that is never UTF-8
    [InlineData(new byte[] { 0xC3, 0xA9, 0x80, 0x61 }, 2)]        // "é" then a lone continuation byte
    [InlineData(new byte[] { 0x61, 0xE2, 0x82 }, 1)]              // a 3-byte sequence cut short at the end
    [InlineData(new byte[] { 0xED, 0xA0, 0x80, 0x61 }, 0)]        // an encoded surrogate (U+D800)
    [InlineData(new byte[] { 0x61, 0xC0, 0xAF }, 1)]              // an overlong encoding of '/'
    public void TextCorpus_InvalidUtf8_ThrowsWithByteOffset(byte[] bytes, int offset)
    {
        string path = Write("invalid.txt", bytes);
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.ReadFile(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("invalid UTF-8", e.Message);
        Assert.Contains($"offset {offset}", e.Message);
    }

    [Fact]
    public void TextCorpus_Directory_ThrowsInvalidData()
    {
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.ReadFile(_directory));
        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void TextCorpus_MissingFile_ThrowsFileNotFound()
    {
        string path = Path.Combine(_directory, "missing.txt");
        var e = Assert.Throws<FileNotFoundException>(() => TextCorpus.ReadFile(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void TextCorpus_ByteOrderMark_IsStripped()
    {
        string path = Write("bom.txt", [0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i', 0xC3, 0xA9]);
        Assert.Equal("hi\u00E9", TextCorpus.ReadFile(path));
        Assert.Equal("hi", TextCorpus.Decode([0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i'], "memory"));
        // An offset after a BOM still counts the file's bytes, the BOM's three included.
        var e = Assert.Throws<InvalidDataException>(() => TextCorpus.Decode([0xEF, 0xBB, 0xBF, (byte)'h', (byte)'i', 0xFF], "memory"));
        Assert.Contains("invalid UTF-8 at byte offset 5", e.Message);
    }

    [Fact]
    public void TextCorpus_ValidMultilingualText_RoundTrips()
    {
        const string text = "naïve café, 日本語 and \U0001F600\n";
        string path = Write("utf8.txt", Encoding.UTF8.GetBytes(text));
        Assert.Equal(text, TextCorpus.ReadFile(path));
    }

    [Fact]
    public void Vocabulary_Emoji_IsOneSymbol()
    {
        const string text = "a\U0001F600b";
        var vocabulary = Vocabulary.FromText(text);

        Assert.Equal(3, vocabulary.Count);
        int[] indices = vocabulary.Encode(text);
        Assert.Equal(3, indices.Length);
        Assert.Equal("\U0001F600", vocabulary.TextOf(indices[1]));
        Assert.Equal(text, string.Concat(indices.Select(vocabulary.TextOf)));
    }
}
