// Reading a training or evaluation text: strict UTF-8 (an invalid byte is reported with its offset, never
// silently replaced), with a one-line explanation for each way a file can be unusable.
using System.Text;

namespace CharRnn.Engine.IO;

public static class TextCorpus
{
    public static string ReadFile(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, not a text file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidDataException($"{path}: cannot read: {e.Message}", e); }
        return Decode(bytes, path);
    }

    public static string Decode(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: the file is empty");
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0) throw new InvalidDataException($"{source}: looks binary (NUL byte at offset {nul}), not UTF-8 text");
        int skipped = 0; // a BOM is not text; offsets in messages still count the file's own bytes
        if (bytes.Length >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF) { bytes = bytes[3..]; skipped = 3; }
        if (bytes.Length == 0) throw new InvalidDataException($"{source}: the file is empty (only a byte-order mark)");
        if (System.Text.Unicode.Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
        int offset = 0; // the slow walk runs only to say where the first bad byte is
        while (offset < bytes.Length)
        {
            var status = Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed);
            if (status != System.Buffers.OperationStatus.Done) throw new InvalidDataException($"{source}: invalid UTF-8 at byte offset {skipped + offset}");
            offset += consumed;
        }
        throw new InvalidDataException($"{source}: invalid UTF-8");
    }
}
