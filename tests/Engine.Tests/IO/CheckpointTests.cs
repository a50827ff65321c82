// Checkpoints on disk: bit-exact round trips for every cell, the PyTorch-written fixture, every way a file can be
// corrupt (each an InvalidDataException saying where and what), a seeded fuzz over mutated bytes, saves that
// never leave a half-written or temporary file behind, and half-precision (F16, BF16) tensors.
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Engine.Tests.IO;

public sealed class CheckpointTests : IDisposable
{
    private const string Text = "hello world!\nthe checkpoint test.";
    private const int Hidden = 7, Layers = 2;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "charrnn-checkpoint-tests-" + Guid.NewGuid().ToString("N"));

    public CheckpointTests() => Directory.CreateDirectory(_directory);

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    public static TheoryData<CellKind> Cells() => new() { CellKind.Lstm, CellKind.Gru, CellKind.Rnn };

    private static (CharModel<float> Model, Vocabulary Vocabulary) NewModel(CellKind cell, int hidden = Hidden, int layers = Layers, ulong seed = 3)
    {
        var vocabulary = Vocabulary.FromText(Text);
        var model = new CharModel<float>(new ModelConfig(cell, vocabulary.Count, hidden, layers));
        model.InitializeUniform(new Rng(seed));
        return (model, vocabulary);
    }

    private static int[] Bits(ReadOnlySpan<float> values) => MemoryMarshal.Cast<float, int>(values).ToArray();

    private string PathOf(string name) => Path.Combine(_directory, name);

    /// <summary>The bytes of a valid 2x7 checkpoint of the given cell.</summary>
    private byte[] ValidBytes(CellKind cell = CellKind.Lstm)
    {
        var (model, vocabulary) = NewModel(cell);
        string path = PathOf($"valid-{cell}.safetensors");
        Checkpoint.Save(path, model, vocabulary);
        return File.ReadAllBytes(path);
    }

    /// <summary>Writes bytes to a file, loads it, and returns the InvalidDataException (which must name the file).</summary>
    private InvalidDataException LoadFails(byte[] bytes, string name = "corrupt.safetensors")
    {
        string path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains(path, e.Message);
        return e;
    }

    // ---- round trips --------------------------------------------------------------------------------------

    [Theory, MemberData(nameof(Cells))]
    public void Checkpoint_SaveThenLoad_RoundTripsParametersVocabularyAndMetadata(CellKind cell)
    {
        var (model, vocabulary) = NewModel(cell);
        string path = PathOf("model.safetensors");
        var extra = new Dictionary<string, string> { ["corpus"] = "unit test", ["train.step"] = "42" };

        Checkpoint.Save(path, model, vocabulary, extra);
        var loaded = Checkpoint.Load(path);

        Assert.Equal(model.Config, loaded.Model.Config);
        Assert.Equal(Bits(model.Parameters), Bits(loaded.Model.Parameters));
        Assert.Equal(Bits(model.Packed), Bits(loaded.Model.Packed)); // Load packs the transposes
        Assert.True(vocabulary.SameAs(loaded.Vocabulary));
        Assert.Equal(vocabulary.Symbols, loaded.Vocabulary.Symbols);
        Assert.Equal(Checkpoint.FormatVersion, loaded.Metadata[Checkpoint.FormatKey]);
        Assert.Equal(ModelConfig.CellName(cell), loaded.Metadata["cell"]);
        Assert.Equal(Layers.ToString(CultureInfo.InvariantCulture), loaded.Metadata["layers"]);
        Assert.Equal(Hidden.ToString(CultureInfo.InvariantCulture), loaded.Metadata["hidden"]);
        Assert.Equal("unit test", loaded.Metadata["corpus"]);
        Assert.Equal("42", loaded.Metadata["train.step"]);

        // PyTorch state_dict names of a module with attributes lstm|gru|rnn and head, in Layout order.
        Assert.Equal(model.Layout.Tensors.Select(s => s.Name), loaded.File.Tensors.Select(t => t.Name));
        string module = ModelConfig.CellName(cell);
        Assert.All(loaded.File.Tensors, t => Assert.Contains(t.Name.Split('.')[0], new List<string> { module, "head" }));
        Assert.Contains($"{module}.weight_ih_l0", loaded.File.Tensors.Select(t => t.Name));
        Assert.Contains($"{module}.bias_hh_l1", loaded.File.Tensors.Select(t => t.Name));
        Assert.All(loaded.File.Tensors, t => Assert.Equal("F32", t.DType));
    }

    [Fact]
    public void Checkpoint_TrainPrefixedExtraTensor_LoadsAndIsKept()
    {
        var (model, vocabulary) = NewModel(CellKind.Gru);
        string path = PathOf("with-extra.safetensors");
        float[] extra = { 1.5f, -2f, 0.25f };
        var extraTensors = new (string Name, int[] Shape, ReadOnlyMemory<float> Data)[] { ("train.adam.step", new[] { 3 }, extra) };
        Checkpoint.Save(path, model, vocabulary, extraTensors: extraTensors);

        var loaded = Checkpoint.Load(path);

        var tensor = loaded.File.Find("train.adam.step");
        Assert.NotNull(tensor);
        Assert.Equal(extra, SafeTensorsFile.ToSingle(tensor!));
        Assert.Equal(Bits(model.Parameters), Bits(loaded.Model.Parameters));
    }

    [Fact]
    public void Checkpoint_PyTorchWrittenFixture_Loads()
    {
        var loaded = new Fixture("lstm").Model;

        var config = loaded.Model.Config;
        Assert.Equal(CellKind.Lstm, config.Cell);
        Assert.Equal(int.Parse(loaded.Metadata["layers"], CultureInfo.InvariantCulture), config.Layers);
        Assert.Equal(int.Parse(loaded.Metadata["hidden"], CultureInfo.InvariantCulture), config.Hidden);
        Assert.Equal(loaded.Vocabulary.Count, config.VocabSize);
        Assert.Equal(loaded.Vocabulary.Count, (int)loaded.File.Find("head.bias")!.Shape[0]);
        foreach (var spec in loaded.Model.Layout.Tensors)
        {
            var tensor = loaded.File.Find(spec.Name);
            Assert.NotNull(tensor);
            Assert.Equal(Bits(SafeTensorsFile.ToSingle(tensor!)), Bits(loaded.Model.View(spec)));
        }
    }

    // ---- corrupt files ------------------------------------------------------------------------------------

    [Fact]
    public void Checkpoint_Truncated_ThrowsInvalidData()
    {
        byte[] valid = ValidBytes();
        int dataStart = SafeTensorsBytes.DataStart(valid);
        var cuts = new (int Length, string Phrase)[]
        {
            (0, "shorter than the 8-byte header length"),
            (7, "shorter than the 8-byte header length"),
            (8, "runs past the end"),                       // length field only
            (9, "runs past the end"),                       // inside the JSON header
            (dataStart / 2, "runs past the end"),
            (dataStart - 1, "runs past the end"),
            (dataStart, "data section (truncated?)"),       // header intact, no data at all
            (dataStart + 3, "data section (truncated?)"),   // inside the first tensor
            ((dataStart + valid.Length) / 2, "data section (truncated?)"),
            (valid.Length - 1, "data section (truncated?)"), // one byte short of the last tensor
        };
        foreach (var (length, phrase) in cuts)
        {
            var e = LoadFails(valid[..length], $"cut-{length}.safetensors");
            Assert.Contains(phrase, e.Message);
        }
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(1UL)]
    [InlineData(1UL << 40)]
    [InlineData(ulong.MaxValue)]
    public void Checkpoint_HeaderLengthOutOfRange_ThrowsInvalidData(ulong headerLength)
    {
        byte[] bytes = ValidBytes();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength);
        Assert.Contains("is outside 2..", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_HeaderNotJson_ThrowsInvalidData()
    {
        Assert.Contains("header is not JSON", LoadFails(SafeTensorsBytes.Build("{this is not json", new byte[4])).Message);
    }

    [Fact]
    public void Checkpoint_HeaderJsonNotAnObject_ThrowsInvalidData()
    {
        Assert.Contains("header is not a JSON object", LoadFails(SafeTensorsBytes.Build("[1, 2, 3]", new byte[4])).Message);
    }

    [Fact]
    public void Checkpoint_DataOffsetsBeyondFile_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => root["head.bias"]!["data_offsets"] = JsonNode.Parse("[0, 99999999]"));
        Assert.Contains("tensor 'head.bias' ends at byte 99999999", LoadFails(bytes).Message);

        byte[] handWritten = SafeTensorsBytes.Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,16]}}""", new byte[8]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(handWritten, "hand"));
        Assert.Contains("tensor 'a' ends at byte 16 of a 8-byte data section", e.Message);
    }

    [Fact]
    public void Checkpoint_ShapeInconsistentWithDataSize_ThrowsInvalidData()
    {
        byte[] handWritten = SafeTensorsBytes.Build("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", new byte[8]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(handWritten, "hand"));
        Assert.Contains("tensor 'a' spans 8 bytes but shape [3] of F32 needs 12", e.Message);
        // A shape whose byte count wraps past 2^63 to 0 must not pass for an empty tensor.
        byte[] wrapped = SafeTensorsBytes.Build("""{"a":{"dtype":"F32","shape":[1073741824,1073741824,4],"data_offsets":[0,0]}}""", new byte[8]);
        e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(wrapped, "hand"));
        Assert.Contains("tensor 'a' spans 0 bytes but shape [1073741824, 1073741824, 4] of F32 needs more than 2^63", e.Message);

        int vocab = Vocabulary.FromText(Text).Count;
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => root["head.bias"]!["shape"] = JsonNode.Parse($"[{vocab + 1}]"));
        Assert.Contains($"of F32 needs {4 * (vocab + 1)}", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_OverlappingTensors_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.Build(
            """{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", new byte[12]);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(bytes, "hand"));
        Assert.Contains("overlap", e.Message);
    }

    [Fact]
    public void Checkpoint_MissingTensor_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => root.Remove("head.bias"));
        Assert.Contains("missing tensor 'head.bias'", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_TensorShapeDisagreesWithMetadataHidden_ThrowsInvalidData()
    {
        int vocab = Vocabulary.FromText(Text).Count;
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["hidden"] = "6");
        string message = LoadFails(bytes).Message;
        Assert.Contains($"tensor 'lstm.weight_ih_l0' has shape [{4 * Hidden}, {vocab}]", message);
        Assert.Contains($"hidden=6, vocab={vocab} need [24, {vocab}]", message);
    }

    [Fact]
    public void Checkpoint_FewerLayersInMetadata_ThrowsUnexpectedTensor()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["layers"] = "1");
        Assert.Contains("unexpected tensor 'lstm.weight_ih_l1' for a 1-layer lstm model", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_MoreLayersInMetadata_ThrowsMissingTensor()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["layers"] = "3");
        Assert.Contains("missing tensor 'lstm.weight_ih_l2'", LoadFails(bytes).Message);
    }

    [Theory]
    [InlineData("layers", "0")]
    [InlineData("layers", "two")]
    [InlineData("hidden", "-7")]
    [InlineData("hidden", " 7")]
    public void Checkpoint_MetadataNotPositiveInteger_ThrowsInvalidData(string key, string value)
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)[key] = value);
        Assert.Contains($"metadata '{key}' = '{value}' is not a positive integer", LoadFails(bytes).Message);
    }

    [Theory]
    [InlineData("charrnn.format")]
    [InlineData("cell")]
    [InlineData("layers")]
    [InlineData("hidden")]
    [InlineData("vocab")]
    public void Checkpoint_MissingMetadataKey_ThrowsInvalidData(string key)
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root).Remove(key));
        Assert.Contains($"metadata has no '{key}'", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_UnknownFormatVersion_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)[Checkpoint.FormatKey] = "2");
        Assert.Contains("unknown checkpoint format version '2'", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_UnknownCell_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["cell"] = "transformer");
        Assert.Contains("unknown cell 'transformer'", LoadFails(bytes).Message);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("{\"a\": \"b\"}")]
    [InlineData("42")]
    [InlineData("[1, 2]")]
    public void Checkpoint_VocabNotJsonArrayOfStrings_ThrowsInvalidData(string vocab)
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["vocab"] = vocab);
        Assert.Contains("metadata 'vocab' is not a JSON array of strings", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_VocabEntryOfTwoCharacters_ThrowsInvalidData()
    {
        var vocabulary = Vocabulary.FromText(Text);
        string vocab = SafeTensorsBytes.VocabularyJson(vocabulary).Replace("\"!\"", "\"!!\"", StringComparison.Ordinal);
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => SafeTensorsBytes.Metadata(root)["vocab"] = vocab);
        Assert.Contains("is not exactly one character", LoadFails(bytes).Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void Checkpoint_NonFiniteValueInTensor_ThrowsInvalidData(float value)
    {
        byte[] bytes = ValidBytes();
        int start = SafeTensorsBytes.TensorStart(bytes, "lstm.weight_hh_l1");
        BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(start + 4 * 3), value);
        Assert.Contains("tensor 'lstm.weight_hh_l1' contains NaN or infinity", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_UnexpectedExtraTensor_ThrowsInvalidData()
    {
        byte[] valid = ValidBytes();
        byte[] data = SafeTensorsBytes.Data(valid);
        byte[] extended = new byte[data.Length + 4];
        data.CopyTo(extended, 0);
        BinaryPrimitives.WriteSingleLittleEndian(extended.AsSpan(data.Length), 1f);
        JsonObject root = JsonNode.Parse(SafeTensorsBytes.Header(valid))!.AsObject();
        root["extra.weight"] = JsonNode.Parse($"{{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[{data.Length},{data.Length + 4}]}}");

        byte[] bytes = SafeTensorsBytes.Build(root.ToJsonString(), extended);

        Assert.Contains("unexpected tensor 'extra.weight' for a 2-layer lstm model", LoadFails(bytes).Message);
    }

    [Fact]
    public void Checkpoint_UnsupportedDType_ThrowsInvalidData()
    {
        byte[] bytes = SafeTensorsBytes.EditHeader(ValidBytes(), root => root["head.bias"]!["dtype"] = "I32");
        Assert.Contains("tensor 'head.bias' has dtype I32", LoadFails(bytes).Message);
    }

    // Header strings the JSON reader accepts but cannot turn into .NET strings (System.Text.Json validates UTF-8
    // inside string tokens only when they are materialised, and throws InvalidOperationException then), and
    // data_offsets that are not numbers: all are corrupt files and must be InvalidDataException like the rest.
    [Theory]
    [InlineData("{\"a~\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]    // invalid UTF-8 in a tensor name
    [InlineData("{\"__metadata__\":{\"cell\":\"ls~m\"}}")]                               // invalid UTF-8 in a metadata value
    [InlineData("{\"__metadata__\":{\"ce~l\":\"lstm\"}}")]                               // invalid UTF-8 in a metadata key
    [InlineData("{\"__metadata__\":{\"cell\":\"\\ud800\"}}")]                            // a lone surrogate escape
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}")] // offsets as strings
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,null]}}")]      // offset null
    public void SafeTensors_MalformedHeaderValues_ThrowInvalidData(string header)
    {
        // '~' marks where the header gets a 0xFF byte, which is never valid UTF-8.
        byte[] json = Encoding.UTF8.GetBytes(header);
        for (int i = 0; i < json.Length; i++) if (json[i] == (byte)'~') json[i] = 0xFF;
        byte[] bytes = SafeTensorsBytes.Build(json, new byte[4]);

        var thrown = Record.Exception(() => SafeTensorsFile.Parse(bytes, "malformed"));

        var e = Assert.IsType<InvalidDataException>(thrown);
        Assert.Contains("malformed", e.Message);
    }

    // ---- fuzz -----------------------------------------------------------------------------------------------

    [Fact]
    public void Checkpoint_FuzzedBytes_LoadOrThrowInvalidDataOnly()
    {
        var (model, vocabulary) = NewModel(CellKind.Lstm, hidden: 4, layers: 2);
        string path = PathOf("fuzz.safetensors");
        Checkpoint.Save(path, model, vocabulary);
        byte[] valid = File.ReadAllBytes(path);
        int headerEnd = SafeTensorsBytes.DataStart(valid);
        Checkpoint.FromFile(SafeTensorsFile.Parse(valid, "fuzz"), "fuzz"); // the unmutated file loads

        // Bytes that matter to a JSON parser, plus control, high and never-valid UTF-8 bytes.
        byte[] interesting = "{}[]\",:.-+eE0123456789 \\utfn_"u8.ToArray().Concat(new byte[] { 0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xFF }).ToArray();
        const int Mutations = 3000;
        var random = new Random(1234);
        var failures = new List<string>();
        int loaded = 0, rejected = 0;
        for (int i = 0; i < Mutations; i++)
        {
            byte[] bytes;
            string what;
            switch (i % 4)
            {
                case 0:
                {
                    bytes = (byte[])valid.Clone();
                    int flips = random.Next(1, 9);
                    for (int k = 0; k < flips; k++) bytes[random.Next(bytes.Length)] ^= (byte)random.Next(1, 256);
                    what = $"{flips} random byte flips";
                    break;
                }
                case 1:
                {
                    int length = random.Next(valid.Length);
                    bytes = valid[..length];
                    what = $"truncated to {length} bytes";
                    break;
                }
                case 2:
                {
                    bytes = (byte[])valid.Clone();
                    int edits = random.Next(1, 5);
                    for (int k = 0; k < edits; k++) bytes[random.Next(headerEnd)] = interesting[random.Next(interesting.Length)];
                    what = $"{edits} header bytes replaced";
                    break;
                }
                default:
                {
                    // One byte inserted into or deleted from the JSON header, with the length field either fixed
                    // up (the JSON changes, the data section stays aligned) or left stale (everything shifts).
                    int at = random.Next(8, headerEnd);
                    bool insert = random.Next(2) == 0, fixLength = random.Next(2) == 0;
                    var list = new List<byte>(valid);
                    if (insert) list.Insert(at, interesting[random.Next(interesting.Length)]);
                    else list.RemoveAt(at);
                    bytes = list.ToArray();
                    if (fixLength) BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(headerEnd - 8 + (insert ? 1 : -1)));
                    what = $"header byte {(insert ? "inserted" : "deleted")} at {at}{(fixLength ? ", length fixed" : "")}";
                    break;
                }
            }
            try
            {
                Checkpoint.FromFile(SafeTensorsFile.Parse(bytes, "fuzz"), "fuzz");
                loaded++;
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                failures.Add($"mutation {i} ({what}): {e.GetType().FullName}: {e.Message}");
            }
        }
        if (failures.Count > 0)
            Assert.Fail($"{failures.Count} of {Mutations} mutations threw something other than InvalidDataException; the first ones:\n{string.Join("\n", failures.Take(10))}");
        Assert.True(rejected > Mutations / 4, $"only {rejected} mutations were rejected ({loaded} loaded)");
    }

    // ---- saving -------------------------------------------------------------------------------------------

    [Fact]
    public void Checkpoint_SaveOverExisting_ReplacesItAndLeavesNoTemporaryFiles()
    {
        var (model, vocabulary) = NewModel(CellKind.Lstm);
        string path = PathOf("model.safetensors");
        Checkpoint.Save(path, model, vocabulary);
        model.Parameters[0] += 0.5f;
        model.Pack();

        Checkpoint.Save(path, model, vocabulary);

        Assert.Equal(path, Assert.Single(Directory.GetFileSystemEntries(_directory)));
        Assert.Equal(Bits(model.Parameters), Bits(Checkpoint.Load(path).Model.Parameters));
    }

    [Fact]
    public void Checkpoint_SaveWithNaN_ThrowsAndKeepsPreviousFile()
    {
        var (model, vocabulary) = NewModel(CellKind.Lstm);
        string path = PathOf("model.safetensors");
        Checkpoint.Save(path, model, vocabulary);
        byte[] before = File.ReadAllBytes(path);
        model.Parameters[5] = float.NaN;

        var e = Assert.Throws<InvalidOperationException>(() => Checkpoint.Save(path, model, vocabulary));

        Assert.Contains("non-finite", e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.Equal(path, Assert.Single(Directory.GetFileSystemEntries(_directory)));
    }

    [Fact]
    public void Checkpoint_SaveIntoMissingDirectory_ThrowsDirectoryNotFound()
    {
        var (model, vocabulary) = NewModel(CellKind.Rnn);
        string missing = PathOf("missing");

        Assert.Throws<DirectoryNotFoundException>(() => Checkpoint.Save(Path.Combine(missing, "model.safetensors"), model, vocabulary));

        Assert.False(Directory.Exists(missing));
        Assert.Empty(Directory.GetFileSystemEntries(_directory));
    }

    [Fact]
    public void Checkpoint_LoadMissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => Checkpoint.Load(PathOf("nothing-here.safetensors")));
    }

    [Fact]
    public void Checkpoint_LoadDirectory_ThrowsInvalidData()
    {
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_directory));
        Assert.Contains("is a directory", e.Message);
    }

    // ---- half precision -----------------------------------------------------------------------------------

    /// <summary>A 16-bit parameter against its float, relative: BF16 keeps 8 significant bits, so truncating loses
    /// less than one unit of the 8th, 2^-7 of the value; F16 keeps 11 and rounds, half a unit of the 11th: 2^-11 at most.</summary>
    private const double HalfPrecisionRelative = 1.0 / 128;

    /// <summary>Added for F16's subnormals (below 6.1e-5), which lose significant bits: spaced 2^-24 = 6e-8 apart,
    /// rounding to them errs by 3e-8 at most.</summary>
    private const double Float16SubnormalAbsolute = 1e-7;

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Checkpoint_HalfPrecisionTensors_LoadWidenedExactly(string dtype)
    {
        var (model, vocabulary) = NewModel(CellKind.Gru, hidden: 5, layers: 2);
        // A few values whose 16-bit forms are known by hand; the rest are the random initialisation.
        model.Parameters[0] = 1f;
        model.Parameters[1] = -2f;
        model.Parameters[2] = 1f / 3f;
        model.Parameters[3] = 0f;
        byte[] bytes = SafeTensorsBytes.CheckpointFile(model, vocabulary, dtype);

        var loaded = Checkpoint.FromFile(SafeTensorsFile.Parse(bytes, dtype), dtype);

        Assert.All(loaded.File.Tensors, t => Assert.Equal(dtype, t.DType));
        float[] actual = loaded.Model.Parameters;
        float[] expected = model.Parameters.Select(x => dtype == "F16"
            ? (float)(Half)x                                                              // round to nearest even
            : BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(x) & unchecked((int)0xFFFF0000))) // truncate
            .ToArray();
        Assert.Equal(Bits(expected), Bits(actual));
        Assert.Equal(1f, actual[0]);
        Assert.Equal(-2f, actual[1]);
        Assert.Equal(dtype == "F16" ? 0.333251953125f : 0.33203125f, actual[2]);
        Assert.Equal(0f, actual[3]);
        for (int i = 0; i < actual.Length; i++)
        {
            double error = Math.Abs(actual[i] - model.Parameters[i]);
            if (error > Math.Abs(model.Parameters[i]) * HalfPrecisionRelative + Float16SubnormalAbsolute) Assert.Fail($"{dtype} parameter {i}: {actual[i]} vs {model.Parameters[i]}");
        }
        Assert.Equal(Bits(loaded.Model.Packed), Bits(ConvertedPacked(loaded.Model)));
    }

    /// <summary>The transposes recomputed from the loaded parameters: Load must have packed them.</summary>
    private static float[] ConvertedPacked(CharModel<float> model)
    {
        var copy = new CharModel<float>(model.Config);
        model.Parameters.CopyTo(copy.Parameters, 0);
        copy.Pack();
        return copy.Packed;
    }

    // ---- checksum ------------------------------------------------------------------------------------------

    [Fact]
    public void Checkpoint_CarriesTheSha256OfItsTensorBytes()
    {
        byte[] bytes = ValidBytes();
        var file = SafeTensorsFile.Parse(bytes, "valid");
        using var sha = System.Security.Cryptography.SHA256.Create();
        int dataStart = 8 + (int)BitConverter.ToUInt64(bytes, 0);
        // Tensors are written back to back in header order, so the checksum covers the whole data section.
        Assert.Equal(Convert.ToHexStringLower(sha.ComputeHash(bytes, dataStart, bytes.Length - dataStart)), file.Metadata[Checkpoint.ChecksumKey]);
    }

    [Fact]
    public void Checkpoint_DoubleTensors_LoadRoundedToFloat()
    {
        var (model, vocabulary) = NewModel(CellKind.Lstm, hidden: 5, layers: 1);
        var loaded = Checkpoint.FromFile(SafeTensorsFile.Parse(SafeTensorsBytes.CheckpointFile(model, vocabulary, "F64"), "f64"), "f64");
        Assert.Equal(Bits(model.Parameters), Bits(loaded.Model.Parameters)); // floats widened to double come back exactly
    }

    [Fact]
    public void Checkpoint_TensorsInAnotherOrder_StillMatchTheirChecksum_ButChangedOnesDoNot()
    {
        // safetensors' save_file sorts tensors (by dtype, then name): the same bytes in another order are not damage.
        string path = Path.Combine(_directory, "m.safetensors");
        var (model, vocabulary) = NewModel(CellKind.Lstm, hidden: 6, layers: 2);
        Checkpoint.Save(path, model, vocabulary);
        var file = SafeTensorsFile.Read(path);
        var tensors = file.Tensors.Select(t => (t.Name, Shape: t.Shape.Select(d => (int)d).ToArray(), Data: SafeTensorsFile.ToSingle(t))).ToList();
        SafeTensorsFile.WriteAtomic(path, file.Metadata, tensors.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => (t.Name, t.Shape, (ReadOnlyMemory<float>)t.Data)));
        Assert.Equal(Bits(model.Parameters), Bits(Checkpoint.Load(path).Model.Parameters));

        tensors[0].Data[0] += 0.5f; // changed outside charrnn, metadata copied along
        SafeTensorsFile.WriteAtomic(path, file.Metadata, tensors.Select(t => (t.Name, t.Shape, (ReadOnlyMemory<float>)t.Data)));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("changed outside charrnn (then drop that key from the metadata)", error.Message);
    }

    [Fact]
    public void SafeTensors_ARepeatedTensorOrOffsetsAsStrings_AreRefused()
    {
        byte[] twice = SafeTensorsBytes.Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", new byte[8]);
        Assert.Contains("tensor 'a' appears twice in the header", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(twice, "twice")).Message);
        byte[] strings = SafeTensorsBytes.Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", new byte[4]);
        Assert.Contains("tensor 'a' has invalid data_offsets", Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Parse(strings, "strings")).Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1000)]
    public void Checkpoint_WithAFlippedBitInItsData_IsReportedAsDamaged(int offsetIntoData)
    {
        byte[] bytes = ValidBytes();
        int dataStart = 8 + (int)BitConverter.ToUInt64(bytes, 0);
        // The lowest mantissa bit of a float: the value stays finite and plausible, only the checksum can tell.
        bytes[dataStart + offsetIntoData / 4 * 4] ^= 1;
        Assert.Contains("does not match the checksum", LoadFails(bytes).Message);
    }
}
