// A Trainer's state inside a checkpoint, so `train --resume` continues exactly: extra tensors under the
// `train.` prefix (which PyTorch users drop with strict=False or by filtering the prefix) and metadata keys.
//   train.adam.m, train.adam.v            (P)     Adam moments in Layout order
//   train.hidden_l{l}, train.cell_l{l}    (B, H)  state carried into the next window (cell: LSTM only)
//   metadata train.resume.{step,epoch,window}, train.adam.step, train.mask_rng (16 hex words)
using System.Globalization;
using CharRnn.Engine.Training;

namespace CharRnn.Engine.IO;

public static class TrainingCheckpoint
{
    public static Dictionary<string, string> Metadata(TrainerState state) => new()
    {
        ["train.resume.step"] = state.Step.ToString(CultureInfo.InvariantCulture),
        ["train.resume.epoch"] = state.Epoch.ToString(CultureInfo.InvariantCulture),
        ["train.resume.window"] = state.Window.ToString(CultureInfo.InvariantCulture),
        ["train.adam.step"] = state.AdamStep.ToString(CultureInfo.InvariantCulture),
        ["train.mask_rng"] = string.Join(",", state.MaskRng.Select(w => w.ToString("x16", CultureInfo.InvariantCulture))),
        ["train.lr_scale"] = state.LearningRateScale.ToString("R", CultureInfo.InvariantCulture),
    };

    private const string FirstMomentName = "train.adam.m", SecondMomentName = "train.adam.v";
    private static string HiddenName(int layer) => $"train.hidden_l{layer}";
    private static string CellName(int layer) => $"train.cell_l{layer}";

    public static IEnumerable<(string Name, int[] Shape, ReadOnlyMemory<float> Data)> Tensors(TrainerState state, int batch, int hidden)
    {
        yield return (FirstMomentName, [state.FirstMoment.Length], state.FirstMoment);
        yield return (SecondMomentName, [state.SecondMoment.Length], state.SecondMoment);
        for (int l = 0; l < state.Hidden.Length; l++) yield return (HiddenName(l), [batch, hidden], state.Hidden[l]);
        for (int l = 0; l < state.Cell.Length; l++) yield return (CellName(l), [batch, hidden], state.Cell[l]);
    }

    /// <summary>The names Tensors writes, in its order, for a model of the given layers (cell states for LSTM only).</summary>
    public static IEnumerable<string> TensorNames(int layers, bool lstm)
    {
        yield return FirstMomentName;
        yield return SecondMomentName;
        for (int l = 0; l < layers; l++) yield return HiddenName(l);
        for (int l = 0; lstm && l < layers; l++) yield return CellName(l);
    }

    /// <summary>Whether the checkpoint carries a trainer state (written by train, not only a model).</summary>
    public static bool Has(LoadedCheckpoint checkpoint) => checkpoint.Metadata.ContainsKey("train.resume.step");

    /// <summary>The trainer state of a checkpoint for a run of the given batch; InvalidDataException if damaged.</summary>
    public static TrainerState Read(LoadedCheckpoint checkpoint, int batch, string source)
    {
        InvalidDataException Bad(string problem) => new($"{source}: {problem}");
        var meta = checkpoint.Metadata;
        var config = checkpoint.Model.Config;
        long Long(string key) =>
            meta.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long v)
                ? v : throw Bad($"metadata '{key}' is missing or not a non-negative integer");
        // Every value finite, and Adam's second moments not negative: the trainer never saves anything else (a
        // non-finite step saves nothing), so anything else is damage, refused here rather than met as "diverged".
        float[] Tensor(string name, int length, bool nonNegative = false)
        {
            var tensor = checkpoint.File.Find(name) ?? throw Bad($"training state tensor '{name}' is missing");
            if (tensor.DType != "F32") throw Bad($"training state tensor '{name}' has dtype {tensor.DType}; expected F32");
            float[] values = SafeTensorsFile.ToSingle(tensor);
            if (values.Length != length) throw Bad($"training state tensor '{name}' holds {values.Length} values; batch {batch} x hidden {config.Hidden} needs {length}");
            for (int i = 0; i < values.Length; i++)
            {
                if (!float.IsFinite(values[i]) || (nonNegative && values[i] < 0))
                    throw Bad($"training state tensor '{name}' holds {values[i].ToString(CultureInfo.InvariantCulture)} at {i}; expected {(nonNegative ? "a finite value of at least 0" : "a finite value")}");
            }
            return values;
        }
        string[] words = (meta.TryGetValue("train.mask_rng", out var rng) ? rng : throw Bad("metadata 'train.mask_rng' is missing")).Split(',');
        var maskState = new ulong[words.Length];
        for (int i = 0; i < words.Length; i++)
        {
            if (!ulong.TryParse(words[i], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out maskState[i])) throw Bad("metadata 'train.mask_rng' is not a list of hexadecimal words");
        }
        float scale = meta.TryGetValue("train.lr_scale", out var scaleText) ? (float.TryParse(scaleText, NumberStyles.Float, CultureInfo.InvariantCulture, out float sc) && sc > 0 && float.IsFinite(sc) ? sc
            : throw Bad("metadata 'train.lr_scale' is not a positive number")) : 1f;
        int Int(string key) => Long(key) <= int.MaxValue ? (int)Long(key) : throw Bad($"metadata '{key}' is out of range");
        int parameters = checkpoint.Model.Parameters.Length, size = batch * config.Hidden;
        bool lstm = config.Cell == Model.CellKind.Lstm;
        return new TrainerState(
            Long("train.resume.step"), Int("train.resume.epoch"), Int("train.resume.window"), Long("train.adam.step"),
            Tensor(FirstMomentName, parameters), Tensor(SecondMomentName, parameters, nonNegative: true),
            Enumerable.Range(0, config.Layers).Select(l => Tensor(HiddenName(l), size)).ToArray(),
            lstm ? Enumerable.Range(0, config.Layers).Select(l => Tensor(CellName(l), size)).ToArray() : [],
            maskState, scale);
    }
}
