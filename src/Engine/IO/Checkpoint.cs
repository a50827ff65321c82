// A model on disk: safetensors with the PyTorch state_dict names of a module whose attributes are
// `lstm|gru|rnn` and `head`, so torch's load_state_dict(strict=True) reads it and a file written by torch in
// that layout loads here. Metadata: charrnn.format "1", cell, layers, hidden (decimal strings) and vocab (a
// JSON array of one-symbol strings in index order), plus any extra keys the caller adds (training config,
// metrics). Loading validates every piece and throws InvalidDataException saying what is wrong.
// Integrity: metadata charrnn.sha256 is the SHA-256 of every tensor's bytes in header order (which is file
// order here), checked on load when present, so a flipped bit in the data is reported, not trained on;
// files from other writers (PyTorch) have no checksum and load on validation alone.
using System.Globalization;
using System.Text;
using System.Text.Json;
using CharRnn.Engine.Model;

namespace CharRnn.Engine.IO;

public sealed record LoadedCheckpoint(CharModel<float> Model, Vocabulary Vocabulary, IReadOnlyDictionary<string, string> Metadata, SafeTensorsFile File);

public static class Checkpoint
{
    public const string FormatVersion = "1";
    public const string FormatKey = "charrnn.format";
    public const string ChecksumKey = "charrnn.sha256";

    public static void Save(string path, CharModel<float> model, Vocabulary vocabulary, IReadOnlyDictionary<string, string>? extraMetadata = null,
        IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)>? extraTensors = null)
    {
        var config = model.Config;
        if (vocabulary.Count != config.VocabSize) throw new ArgumentException($"vocabulary has {vocabulary.Count} symbols, model {config.VocabSize}", nameof(vocabulary));
        var metadata = new Dictionary<string, string>();
        if (extraMetadata != null) foreach (var (k, v) in extraMetadata) metadata[k] = v;
        metadata[FormatKey] = FormatVersion;
        metadata["cell"] = config.ModuleName;
        metadata["layers"] = config.Layers.ToString(CultureInfo.InvariantCulture);
        metadata["hidden"] = config.Hidden.ToString(CultureInfo.InvariantCulture);
        metadata["vocab"] = JsonSerializer.Serialize(vocabulary.Symbols, VocabJson.Default.IReadOnlyListString);
        var extras = (extraTensors ?? []).ToList();
        // Load accepts beside the model's tensors only the trainer's own, named train.*: anything else would be
        // written and then refused.
        if (extras.FirstOrDefault(t => !t.Name.StartsWith("train.", StringComparison.Ordinal)) is { Name: string stray })
            throw new ArgumentException($"extra tensor '{stray}' must be named train.*", nameof(extraTensors));
        var tensors = model.Layout.Tensors
            .Select(spec => (spec.Name, spec.Shape, Data: (ReadOnlyMemory<float>)model.Parameters.AsMemory(spec.Offset, spec.Length)))
            .Concat(extras).ToList();
        foreach (var (name, _, data) in tensors)
        {
            foreach (float v in data.Span)
            {
                if (!float.IsFinite(v)) throw new InvalidOperationException($"refusing to write a checkpoint whose tensor '{name}' holds a non-finite value (NaN or infinity)");
            }
        }
        metadata[ChecksumKey] = Sha256Of(tensors.Select(t => t.Data));
        SafeTensorsFile.WriteAtomic(path, metadata, tensors);
    }

    public static LoadedCheckpoint Load(string path)
    {
        if (Directory.Exists(path)) throw new InvalidDataException($"{path}: is a directory, not a checkpoint");
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"{path}: no such file", path);
        var file = SafeTensorsFile.Read(path);
        return FromFile(file, path);
    }

    public static LoadedCheckpoint FromFile(SafeTensorsFile file, string source)
    {
        InvalidDataException Bad(string problem) => new($"{source}: {problem}");
        var meta = file.Metadata;
        string Require(string key) => meta.TryGetValue(key, out var v) ? v : throw Bad($"metadata has no '{key}' (is this a CharRnn checkpoint?)");
        int PositiveInt(string key)
        {
            string text = Require(key);
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) && v > 0 ? v : throw Bad($"metadata '{key}' = '{text}' is not a positive integer");
        }

        string format = Require(FormatKey);
        string cellName = Require("cell");
        CellKind cell = cellName switch
        {
            "lstm" => CellKind.Lstm,
            "gru" => CellKind.Gru,
            "rnn" => CellKind.Rnn,
            _ => throw Bad($"unknown cell '{cellName}'; expected lstm, gru or rnn"),
        };
        int layers = PositiveInt("layers"), hidden = PositiveInt("hidden");
        var vocabulary = ParseVocabulary(Require("vocab"), Bad);

        var config = new ModelConfig(cell, vocabulary.Count, hidden, layers);
        CharModel<float> model;
        try { model = new CharModel<float>(config); }
        catch (ArgumentOutOfRangeException e) { throw Bad($"metadata describes an unusable model: {e.Message}"); }
        var expected = new HashSet<string>(model.Layout.Tensors.Select(t => t.Name));
        foreach (var tensor in file.Tensors)
        {
            if (!expected.Contains(tensor.Name) && !tensor.Name.StartsWith("train.", StringComparison.Ordinal))
                throw Bad($"unexpected tensor '{tensor.Name}' for a {layers}-layer {cellName} model");
        }
        foreach (var spec in model.Layout.Tensors)
        {
            var tensor = file.Find(spec.Name) ?? throw Bad($"missing tensor '{spec.Name}'");
            if (!tensor.Shape.Select(d => (int)d).SequenceEqual(spec.Shape))
                throw Bad($"tensor '{spec.Name}' has shape [{string.Join(", ", tensor.Shape)}]; layers={layers}, hidden={hidden}, vocab={vocabulary.Count} need [{string.Join(", ", spec.Shape)}]");
            if (tensor.DType is not ("F32" or "F16" or "BF16" or "F64")) throw Bad($"tensor '{spec.Name}' has dtype {tensor.DType}; expected F32, F16, BF16 or F64");
            float[] values = SafeTensorsFile.ToSingle(tensor);
            foreach (float v in values)
            {
                if (!float.IsFinite(v)) throw Bad($"tensor '{spec.Name}' contains NaN or infinity");
            }
            values.CopyTo(model.View(spec));
        }
        // Last, so a file with a specific fault (a NaN, a missing tensor) is named for that fault.
        if (meta.TryGetValue(ChecksumKey, out var expectedChecksum))
        {
            // Save hashes the tensors in the order it writes them: the model's layout, then train.*. A file that
            // went through safetensors' save_file with its metadata has them re-sorted (by dtype, then name), so
            // that order is tried as well: same bytes in another order are not damage.
            bool Matches(IEnumerable<SafeTensor> order) =>
                string.Equals(Sha256Of(order.Select(t => t.Data)), expectedChecksum, StringComparison.OrdinalIgnoreCase);
            var writeOrder = model.Layout.Tensors.Select(spec => spec.Name)
                .Concat(TrainingCheckpoint.TensorNames(layers, model.Config.Cell == CellKind.Lstm)).ToList();
            var asSaved = writeOrder.Select(file.Find).OfType<SafeTensor>().Concat(file.Tensors.Where(t => !writeOrder.Contains(t.Name)));
            if (!Matches(file.Tensors) && !Matches(asSaved))
                throw Bad($"its tensor data does not match the checksum in its metadata ('{ChecksumKey}'): the file is damaged, or its tensors were changed outside charrnn (then drop that key from the metadata)");
        }
        if (format != FormatVersion) throw Bad($"unknown checkpoint format version '{format}'; this build reads version {FormatVersion}");
        model.Pack();
        return new LoadedCheckpoint(model, vocabulary, meta, file);
    }

    /// <summary>SHA-256 of the tensors' bytes in order, lowercase hex: written by Save, checked by FromFile.</summary>
    private static string Sha256Of<T>(IEnumerable<ReadOnlyMemory<T>> tensors) where T : unmanaged
    {
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        foreach (var data in tensors) hash.AppendData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.Span));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    private static Vocabulary ParseVocabulary(string json, Func<string, InvalidDataException> bad)
    {
        List<string>? symbols;
        try { symbols = JsonSerializer.Deserialize(json, VocabJson.Default.ListString); }
        catch (JsonException e) { throw bad($"metadata 'vocab' is not a JSON array of strings ({e.Message})"); }
        if (symbols == null || symbols.Count == 0) throw bad("metadata 'vocab' is empty");
        var runes = new List<Rune>(symbols.Count);
        foreach (string s in symbols)
        {
            if (s == null || Rune.DecodeFromUtf16(s, out Rune r, out int used) != System.Buffers.OperationStatus.Done || used != s.Length)
                throw bad($"metadata 'vocab' entry \"{s}\" is not exactly one character");
            runes.Add(r);
        }
        var vocabulary = new Vocabulary(runes);
        if (vocabulary.Count != runes.Count || !runes.Select(r => r.Value).SequenceEqual(Enumerable.Range(0, vocabulary.Count).Select(i => vocabulary[i].Value)))
            throw bad("metadata 'vocab' must list distinct symbols sorted by code point");
        return vocabulary;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(List<string>))]
[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<string>))]
internal sealed partial class VocabJson : System.Text.Json.Serialization.JsonSerializerContext;
