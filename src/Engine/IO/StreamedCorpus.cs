// A corpus too large to hold as text: two sequential passes over the UTF-8 file (the first validates it,
// counts the characters, collects the alphabet and hashes the bytes; the second writes every character's
// vocabulary index to a token file, one byte each when the alphabet has at most 256 symbols), then training
// windows are read from the token file by position (pread), B*(T+1) tokens at a time. Process memory is
// the model plus one window; the file system cache holds the rest and can drop it at will.
using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using CharRnn.Engine.Model;
using CharRnn.Engine.Training;
using Microsoft.Win32.SafeHandles;

namespace CharRnn.Engine.IO;

public sealed class StreamedCorpus : IDisposable
{
    private const int ChunkBytes = 1 << 20;
    private readonly SafeFileHandle _tokens;
    private readonly string _tokenPath;
    private readonly int _bytesPerToken;

    private StreamedCorpus(string tokenPath, Vocabulary vocabulary, long length, string sha256)
    {
        _tokenPath = tokenPath;
        Vocabulary = vocabulary;
        Length = length;
        Sha256 = sha256;
        _bytesPerToken = vocabulary.Count <= 256 ? 1 : vocabulary.Count <= 65536 ? 2 : 4;
        _tokens = File.OpenHandle(tokenPath, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
    }

    public Vocabulary Vocabulary { get; }

    /// <summary>Characters (tokens) in the corpus.</summary>
    public long Length { get; }

    /// <summary>SHA-256 of the file's bytes, lowercase hex.</summary>
    public string Sha256 { get; }

    /// <summary>Scans path and writes its token file to tokenPath (deleted again on Dispose).</summary>
    public static StreamedCorpus Open(string path, string tokenPath)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, not a text file");
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var seen = new bool[0x110000];
        long length = 0;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        ForEachRune(path, chunk => sha.AppendData(chunk.Span), rune => { seen[rune] = true; length++; });
        if (length == 0) throw new InvalidDataException($"{path}: the file is empty");
        var vocabulary = new Vocabulary(Enumerable.Range(0, seen.Length).Where(c => seen[c]).Select(c => new Rune(c)));
        var index = new int[0x110000];
        for (int i = 0; i < vocabulary.Count; i++) index[vocabulary[i].Value] = i;
        int width = vocabulary.Count <= 256 ? 1 : vocabulary.Count <= 65536 ? 2 : 4;
        AtomicFile.Write(tokenPath, stream =>
        {
            var buffer = new byte[ChunkBytes];
            int used = 0;
            long written = 0;
            // The second pass must read what the first one scanned: a character it never saw, or a different
            // length, means the file changed in between, and its tokens (and the hash) would not be this text's.
            ForEachRune(path, _ => { }, rune =>
            {
                if (!seen[rune] || ++written > length) throw new InvalidDataException($"{path}: the file changed while it was being read");
                if (used + width > buffer.Length) { stream.Write(buffer, 0, used); used = 0; }
                int id = index[rune];
                for (int k = 0; k < width; k++) buffer[used++] = (byte)(id >> (8 * k));
            });
            if (written != length) throw new InvalidDataException($"{path}: the file changed while it was being read");
            stream.Write(buffer, 0, used);
        });
        return new StreamedCorpus(tokenPath, vocabulary, length, Convert.ToHexStringLower(sha.GetHashAndReset()));
    }

    /// <summary>Strict UTF-8 decoding in chunks: a BOM is skipped, a NUL means binary, a bad byte names its offset.</summary>
    private static void ForEachRune(string path, Action<ReadOnlyMemory<byte>> onBytes, Action<int> onRune)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes + 4);
        try
        {
            int carried = 0;
            long consumedBefore = 0; // file offset of buffer[0]
            bool first = true;
            while (true)
            {
                int read = file.Read(buffer, carried, ChunkBytes);
                if (read > 0) onBytes(buffer.AsMemory(carried, read));
                int available = carried + read;
                if (available == 0) break;
                var span = buffer.AsSpan(0, available);
                int offset = 0;
                if (first && span.Length >= 3 && span[0] == 0xEF && span[1] == 0xBB && span[2] == 0xBF) offset = 3;
                first = false;
                while (offset < available)
                {
                    var status = Rune.DecodeFromUtf8(span[offset..], out Rune rune, out int used);
                    if (status == OperationStatus.NeedMoreData && read > 0) break; // the rest of it is in the next chunk
                    if (status != OperationStatus.Done) throw new InvalidDataException($"{path}: invalid UTF-8 at byte offset {consumedBefore + offset}");
                    if (rune.Value == 0) throw new InvalidDataException($"{path}: looks binary (NUL byte at offset {consumedBefore + offset}), not UTF-8 text");
                    onRune(rune.Value);
                    offset += used;
                }
                carried = available - offset;
                span[offset..].CopyTo(buffer);
                consumedBefore += offset;
                if (read == 0) break;
            }
        }
        finally { ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Tokens [start, start+count) (for a held-out sample).</summary>
    public int[] ReadTokens(long start, int count)
    {
        if (start < 0 || count < 0 || start + count > Length) throw new ArgumentOutOfRangeException(nameof(start), $"tokens [{start}, {start + count}) are outside the corpus's {Length}");
        var tokens = new int[count];
        var bytes = new byte[(long)count * _bytesPerToken];
        if (RandomAccess.Read(_tokens, bytes, start * _bytesPerToken) != bytes.Length) throw new IOException($"the token file ended early at token {start}");
        for (int i = 0; i < count; i++) tokens[i] = Decode(bytes, i);
        return tokens;
    }

    private int Decode(ReadOnlySpan<byte> bytes, int i) => _bytesPerToken switch
    {
        1 => bytes[i],
        2 => bytes[2 * i] | bytes[2 * i + 1] << 8,
        _ => bytes[4 * i] | bytes[4 * i + 1] << 8 | bytes[4 * i + 2] << 16 | bytes[4 * i + 3] << 24,
    };

    /// <summary>char-rnn windows (as CorpusBatches) over the first trainLength tokens, read from the token file.</summary>
    public ITrainingWindows Windows(long trainLength, int batch, int steps)
    {
        if (batch < 1 || steps < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"batch {batch} and steps {steps} must both be at least 1");
        if (trainLength < 0 || trainLength > Length) throw new ArgumentOutOfRangeException(nameof(trainLength), $"{trainLength} training tokens; the corpus has {Length}");
        return new FileWindows(this, trainLength, batch, steps);
    }

    private sealed class FileWindows : ITrainingWindows
    {
        private readonly StreamedCorpus _corpus;
        private readonly long _streamLength;

        public FileWindows(StreamedCorpus corpus, long trainLength, int batch, int steps)
        {
            long used = (trainLength - 1) / ((long)batch * steps) * batch * steps;
            if (used <= 0) throw new InvalidDataException($"the training text has {trainLength} characters; batch {batch} x steps {steps} needs at least {CorpusBatches.MinimumCharacters(batch, steps)}");
            _corpus = corpus;
            Batch = batch; Steps = steps;
            _streamLength = used / batch;
            WindowsPerEpoch = (int)Math.Min(int.MaxValue, _streamLength / steps);
        }

        public int Batch { get; }
        public int Steps { get; }
        public int WindowsPerEpoch { get; }

        public void Fill(int window, Span<int> inputs, Span<int> targets, int firstStream, int streams)
        {
            if ((uint)window >= (uint)WindowsPerEpoch) throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be in 0..{WindowsPerEpoch - 1}");
            int width = _corpus._bytesPerToken, length = (Steps + 1) * width;
            // One stream's T+1 tokens: on the stack up to a few KiB, else from the shared pool (allocation-free once
            // warm), because a long --seq on a worker thread's stack would overflow it and kill the process.
            byte[]? rented = length > MaxStackBytes ? ArrayPool<byte>.Shared.Rent(length) : null;
            Span<byte> bytes = rented != null ? rented.AsSpan(0, length) : stackalloc byte[MaxStackBytes];
            bytes = bytes[..length];
            try
            {
                for (int b = 0; b < streams; b++)
                {
                    long start = (firstStream + b) * _streamLength + (long)window * Steps;
                    int read = RandomAccess.Read(_corpus._tokens, bytes, start * width);
                    if (read != bytes.Length) throw new IOException($"the token file ended early at token {start}");
                    for (int t = 0; t < Steps; t++)
                    {
                        inputs[t * streams + b] = _corpus.Decode(bytes, t);
                        targets[t * streams + b] = _corpus.Decode(bytes, t + 1);
                    }
                }
            }
            finally
            {
                if (rented != null) ArrayPool<byte>.Shared.Return(rented);
            }
        }

        private const int MaxStackBytes = 4096;
    }

    public void Dispose()
    {
        _tokens.Dispose();
        try { File.Delete(_tokenPath); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
