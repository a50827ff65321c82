// Hand-built safetensors bytes for the checkpoint tests: an 8-byte little-endian header length, the JSON header,
// then the data section. Nothing here validates anything, so tests can build the files the engine's writer
// would refuse to produce (wrong dtype, wrong shapes, broken JSON, overlapping or missing tensors).
using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Tests.IO;

internal static class SafeTensorsBytes
{
    public static byte[] Build(string headerJson, ReadOnlySpan<byte> data) => Build(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] Build(ReadOnlySpan<byte> header, ReadOnlySpan<byte> data)
    {
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file.AsSpan(8));
        data.CopyTo(file.AsSpan(8 + header.Length));
        return file;
    }

    public static int HeaderLength(byte[] file) => checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));

    /// <summary>Offset of the data section: 8 + header length.</summary>
    public static int DataStart(byte[] file) => 8 + HeaderLength(file);

    public static string Header(byte[] file) => Encoding.UTF8.GetString(file, 8, HeaderLength(file));

    public static byte[] Data(byte[] file) => file[DataStart(file)..];

    /// <summary>The same file with its JSON header edited as a tree; the data section is kept as it is.</summary>
    public static byte[] EditHeader(byte[] file, Action<JsonObject> edit)
    {
        JsonObject root = JsonNode.Parse(Header(file))!.AsObject();
        edit(root);
        return Build(root.ToJsonString(), Data(file));
    }

    public static JsonObject Metadata(JsonObject root) => root["__metadata__"]!.AsObject();

    /// <summary>Where tensor name starts in the whole file (data start + its first data offset).</summary>
    public static int TensorStart(byte[] file, string name)
    {
        using var header = JsonDocument.Parse(Header(file));
        return DataStart(file) + header.RootElement.GetProperty(name).GetProperty("data_offsets")[0].GetInt32();
    }

    /// <summary>A checkpoint-shaped file (CharRnn metadata, PyTorch names, Layout order) storing every tensor in
    /// dtype F32, F16 (round to nearest) or BF16 (upper 16 bits of the float, i.e. truncation).</summary>
    public static byte[] CheckpointFile(CharModel<float> model, Vocabulary vocabulary, string dtype)
    {
        int size = dtype switch { "F64" => 8, "F32" => 4, _ => 2 };
        float[] values = model.Parameters;
        var data = new byte[values.Length * size];
        for (int i = 0; i < values.Length; i++)
        {
            Span<byte> destination = data.AsSpan(i * size, size);
            switch (dtype)
            {
                case "F64": BinaryPrimitives.WriteDoubleLittleEndian(destination, values[i]); break;
                case "F32": BinaryPrimitives.WriteSingleLittleEndian(destination, values[i]); break;
                case "F16": BinaryPrimitives.WriteUInt16LittleEndian(destination, BitConverter.HalfToUInt16Bits((Half)values[i])); break;
                case "BF16": BinaryPrimitives.WriteUInt16LittleEndian(destination, (ushort)(BitConverter.SingleToUInt32Bits(values[i]) >> 16)); break;
                default: throw new ArgumentException($"unsupported dtype '{dtype}'", nameof(dtype));
            }
        }

        var config = model.Config;
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString(Checkpoint.FormatKey, Checkpoint.FormatVersion);
            json.WriteString("cell", config.ModuleName);
            json.WriteString("layers", config.Layers.ToString(CultureInfo.InvariantCulture));
            json.WriteString("hidden", config.Hidden.ToString(CultureInfo.InvariantCulture));
            json.WriteString("vocab", VocabularyJson(vocabulary));
            json.WriteEndObject();
            foreach (var spec in model.Layout.Tensors)
            {
                json.WriteStartObject(spec.Name);
                json.WriteString("dtype", dtype);
                json.WriteStartArray("shape");
                foreach (int d in spec.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue((long)spec.Offset * size);
                json.WriteNumberValue((long)(spec.Offset + spec.Length) * size);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Build(buffer.ToArray(), data);
    }

    /// <summary>The vocabulary as the checkpoint stores it: a JSON array of one-symbol strings, in index order.</summary>
    public static string VocabularyJson(Vocabulary vocabulary)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (string symbol in vocabulary.Symbols) json.WriteStringValue(symbol);
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}
