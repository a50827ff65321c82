// The safetensors container (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length
// N, N bytes of JSON {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw
// little-endian tensor bytes. Reading trusts nothing: every length, offset, shape and dtype is checked and any
// inconsistency is an InvalidDataException naming the file and the problem. Writing is atomic: a temporary
// file in the same directory, flushed to disk, then renamed over the target, so an interrupted save never
// destroys the previous file.
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace CharRnn.Engine.IO;

public sealed record SafeTensor(string Name, string DType, long[] Shape, ReadOnlyMemory<byte> Data)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);
}

public sealed class SafeTensorsFile
{
    public const long MaxHeaderBytes = 100L << 20; // the reference implementation's limit

    public SafeTensorsFile(IReadOnlyDictionary<string, string> metadata, IReadOnlyList<SafeTensor> tensors)
    {
        Metadata = metadata;
        Tensors = tensors;
    }

    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyList<SafeTensor> Tensors { get; }

    public SafeTensor? Find(string name) => Tensors.FirstOrDefault(t => t.Name == name);

    public static int ElementSize(string dtype) => dtype switch
    {
        "F64" or "I64" or "U64" => 8,
        "F32" or "I32" or "U32" => 4,
        "F16" or "BF16" or "I16" or "U16" => 2,
        "I8" or "U8" or "BOOL" or "F8_E4M3" or "F8_E5M2" => 1,
        _ => 0,
    };

    /// <summary>
    /// Whether bytes hold exactly count elements of size bytes each. Divided, not multiplied: count * size can
    /// wrap past 2^63 for a hostile shape and then pass as 0 bytes.
    /// </summary>
    private static bool SpansExactly(long bytes, long count, int size) => bytes % size == 0 && bytes / size == count;

    /// <summary>The tensor's values as float: F32 as is, F16 and BF16 widened exactly, F64 rounded.</summary>
    public static float[] ToSingle(SafeTensor tensor)
    {
        ReadOnlySpan<byte> bytes = tensor.Data.Span;
        // A SafeTensor made by hand may hold fewer bytes than its shape needs (a parsed one never does).
        if (ElementSize(tensor.DType) is int size && (size == 0 || !SpansExactly(bytes.Length, tensor.ElementCount, size)))
            throw new InvalidDataException($"tensor '{tensor.Name}' holds {bytes.Length} bytes; shape [{string.Join(", ", tensor.Shape)}] of {tensor.DType} needs {tensor.ElementCount} x {size}");
        var values = new float[tensor.ElementCount];
        switch (tensor.DType)
        {
            case "F32":
                MemoryMarshal.Cast<byte, float>(bytes).CopyTo(values);
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
                break;
            case "F16":
                for (int i = 0; i < values.Length; i++) values[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                break;
            case "BF16":
                for (int i = 0; i < values.Length; i++) values[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) << 16);
                break;
            case "F64":
                for (int i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                break;
            default:
                throw new InvalidDataException($"tensor '{tensor.Name}' has dtype {tensor.DType}; expected F32, F16, BF16 or F64");
        }
        return values;
    }

    public static SafeTensorsFile Read(string path)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new InvalidDataException($"{path}: cannot read: {e.Message}", e); }
        return Parse(bytes, path);
    }

    public static SafeTensorsFile Parse(byte[] bytes, string source)
    {
        InvalidDataException Bad(string problem) => new($"{source}: not a valid safetensors file: {problem}");
        if (bytes.Length < 8) throw Bad($"{bytes.Length} bytes is shorter than the 8-byte header length");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength < 2 || headerLength > MaxHeaderBytes) throw Bad($"header length {headerLength} is outside 2..{MaxHeaderBytes}");
        if (headerLength > (ulong)(bytes.Length - 8)) throw Bad($"header length {headerLength} runs past the end of the {bytes.Length}-byte file (truncated?)");
        int dataStart = 8 + (int)headerLength;
        long dataLength = bytes.Length - dataStart;

        if (!System.Text.Unicode.Utf8.IsValid(bytes.AsSpan(8, (int)headerLength))) throw Bad("header is not valid UTF-8");
        JsonDocument document;
        try { document = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)); }
        catch (JsonException e) { throw Bad($"header is not JSON ({e.Message})"); }
        using (document)
        {
            try { return ParseHeader(document, bytes, dataStart, dataLength, Bad); }
            // Escaped lone surrogates (\ud800) are valid JSON but not text; System.Text.Json refuses them on read.
            catch (InvalidOperationException e) { throw Bad($"header holds a string that is not valid text ({e.Message})"); }
        }
    }

    private static SafeTensorsFile ParseHeader(JsonDocument document, byte[] bytes, int dataStart, long dataLength, Func<string, InvalidDataException> Bad)
    {
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object) throw Bad("header is not a JSON object");
            var metadata = new Dictionary<string, string>();
            var tensors = new List<SafeTensor>();
            var ranges = new List<(long Begin, long End, string Name)>();
            foreach (JsonProperty entry in document.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__")
                {
                    if (entry.Value.ValueKind != JsonValueKind.Object) throw Bad("__metadata__ is not an object");
                    foreach (JsonProperty m in entry.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String) throw Bad($"metadata '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                // JSON readers disagree on a repeated key (first or last wins): a file that repeats a tensor is refused.
                if (tensors.Any(t => t.Name == entry.Name)) throw Bad($"tensor '{entry.Name}' appears twice in the header");
                tensors.Add(ParseTensor(entry, bytes, dataStart, dataLength, ranges, Bad));
            }
            ranges.Sort();
            for (int i = 1; i < ranges.Count; i++)
            {
                if (ranges[i].Begin < ranges[i - 1].End) throw Bad($"tensors '{ranges[i - 1].Name}' and '{ranges[i].Name}' overlap");
            }
            return new SafeTensorsFile(metadata, tensors);
        }
    }

    private static SafeTensor ParseTensor(JsonProperty entry, byte[] bytes, int dataStart, long dataLength,
        List<(long, long, string)> ranges, Func<string, InvalidDataException> bad)
    {
        string name = entry.Name;
        JsonElement value = entry.Value;
        if (value.ValueKind != JsonValueKind.Object) throw bad($"entry '{name}' is not an object");
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String) throw bad($"tensor '{name}' has no dtype");
        string dtype = dtypeElement.GetString()!;
        int size = ElementSize(dtype);
        if (size == 0) throw bad($"tensor '{name}' has unknown dtype '{dtype}'");
        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array) throw bad($"tensor '{name}' has no shape");
        var shape = new List<long>();
        long count = 1;
        foreach (JsonElement d in shapeElement.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long dim) || dim < 0 || dim > int.MaxValue) throw bad($"tensor '{name}' has an invalid dimension in its shape");
            shape.Add(dim);
            count = dim == 0 ? 0 : (count > long.MaxValue / dim ? throw bad($"tensor '{name}' is impossibly large") : count * dim);
        }
        if (!value.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw bad($"tensor '{name}' has no data_offsets pair");
        if (offsets[0].ValueKind != JsonValueKind.Number || offsets[1].ValueKind != JsonValueKind.Number
            || !offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin)
            throw bad($"tensor '{name}' has invalid data_offsets");
        if (end > dataLength) throw bad($"tensor '{name}' ends at byte {end} of a {dataLength}-byte data section (truncated?)");
        if (!SpansExactly(end - begin, count, size))
            throw bad($"tensor '{name}' spans {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtype} needs {(count <= long.MaxValue / size ? (count * size).ToString() : "more than 2^63")}");
        ranges.Add((begin, end, name));
        return new SafeTensor(name, dtype, shape.ToArray(), bytes.AsMemory(dataStart + (int)begin, (int)(end - begin)));
    }

    /// <summary>Writes F32 tensors and metadata atomically (temporary file, flush to disk, rename).</summary>
    public static void WriteAtomic(string path, IReadOnlyDictionary<string, string> metadata, IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> tensors)
    {
        var list = tensors.ToList();
        // What Read would refuse is refused before anything is written.
        foreach (var (name, shape, data) in list)
        {
            long count = 1;
            foreach (int d in shape) count = d < 0 ? -1 : count * d;
            if (count != data.Length) throw new ArgumentException($"tensor '{name}' has shape [{string.Join(", ", shape)}] but {data.Length} values", nameof(tensors));
        }
        if (list.Select(t => t.Name).Distinct().Count() != list.Count) throw new ArgumentException("two tensors share a name", nameof(tensors));

        var header = new ArrayBufferWriterStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (var (name, shape, data) in list)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + 4L * data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += 4L * data.Length;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
        while (header.Length % 8 != 0) header.WriteByte((byte)' ');

        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)header.Length);
            stream.Write(lengthBytes);
            stream.Write(header.GetBuffer().AsSpan(0, (int)header.Length));
            foreach (var (_, _, data) in list) stream.Write(MemoryMarshal.AsBytes(data.Span));
        });
    }

    private sealed class ArrayBufferWriterStream : MemoryStream;
}
