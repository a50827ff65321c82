// Where each named parameter tensor lives in the model's single slab. Gradients and optimizer moments reuse
// the layout, so clipping and Adam are flat loops over one array. Order and names are PyTorch's state_dict
// of a module with attributes `lstm|gru|rnn` and `head`, which is what makes checkpoints interoperate.
namespace CharRnn.Engine.Model;

public sealed record TensorSpec(string Name, int[] Shape, int Offset, int Index)
{
    public int Length => Shape.Aggregate(1, (a, b) => a * b);
}

public sealed class ParameterLayout
{
    private readonly Dictionary<string, TensorSpec> _byName;

    public ParameterLayout(ModelConfig config)
    {
        Config = config.Validated();
        var specs = new List<TensorSpec>();
        int offset = 0;
        void Add(string name, params int[] shape)
        {
            var spec = new TensorSpec(name, shape, offset, specs.Count);
            specs.Add(spec);
            offset += spec.Length;
        }
        int g = config.GateWidth, h = config.Hidden;
        string m = config.ModuleName;
        for (int l = 0; l < config.Layers; l++)
        {
            Add($"{m}.weight_ih_l{l}", g, config.InputWidth(l));
            Add($"{m}.weight_hh_l{l}", g, h);
            Add($"{m}.bias_ih_l{l}", g);
            Add($"{m}.bias_hh_l{l}", g);
        }
        Add("head.weight", config.VocabSize, h);
        Add("head.bias", config.VocabSize);
        Tensors = specs;
        TotalLength = offset;
        _byName = specs.ToDictionary(s => s.Name);
    }

    public ModelConfig Config { get; }
    public IReadOnlyList<TensorSpec> Tensors { get; }
    public int TotalLength { get; }

    public TensorSpec this[string name] => _byName.TryGetValue(name, out var spec) ? spec
        : throw new KeyNotFoundException($"no parameter named '{name}'");

    public bool TryGet(string name, out TensorSpec spec) => _byName.TryGetValue(name, out spec!);

    // Indices into Tensors for layer l's four tensors and the head, in the fixed order above.
    public TensorSpec WeightIh(int layer) => Tensors[4 * layer];
    public TensorSpec WeightHh(int layer) => Tensors[4 * layer + 1];
    public TensorSpec BiasIh(int layer) => Tensors[4 * layer + 2];
    public TensorSpec BiasHh(int layer) => Tensors[4 * layer + 3];
    public TensorSpec HeadWeight => Tensors[4 * Config.Layers];
    public TensorSpec HeadBias => Tensors[4 * Config.Layers + 1];

    /// <summary>The tensors fall into groups: group l is layer l's four, group Layers the head's two.</summary>
    public int TensorGroups => Config.Layers + 1;

    /// <summary>Indices [First, End) into Tensors of a group's tensors.</summary>
    public (int First, int End) GroupTensors(int group)
    {
        if ((uint)group >= (uint)TensorGroups) throw new ArgumentOutOfRangeException(nameof(group), group, $"must be in 0..{TensorGroups - 1}");
        return (4 * group, Math.Min(4 * group + 4, Tensors.Count));
    }
}
