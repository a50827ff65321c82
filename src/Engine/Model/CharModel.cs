// A character model's parameters: one slab holding every named tensor (PyTorch layout, e.g. weight_ih (G, D)),
// plus the transposed copies the forward pass multiplies by, refreshed once per optimizer step by Pack().
// Generic over the element type so the same layers run in float (training) and double (gradient checks).
// Deliberately not here: activations (sized per batch and window, see UnrolledModel) and optimizer state.
using System.Numerics;

namespace CharRnn.Engine.Model;

public sealed class CharModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _packedOffsets;   // per tensor: where its transpose starts in Packed (-1 for biases)

    public CharModel(ModelConfig config)
    {
        Layout = new ParameterLayout(config);
        Parameters = new T[Layout.TotalLength];
        _packedOffsets = new int[Layout.Tensors.Count];
        int packed = 0;
        for (int i = 0; i < Layout.Tensors.Count; i++)
        {
            var spec = Layout.Tensors[i];
            _packedOffsets[i] = spec.Shape.Length == 2 ? packed : -1;
            if (spec.Shape.Length == 2) packed += spec.Length;
        }
        Packed = new T[packed];
    }

    public ModelConfig Config => Layout.Config;
    public ParameterLayout Layout { get; }

    /// <summary>Every parameter, in Layout order; gradients and optimizer moments share this layout.</summary>
    public T[] Parameters { get; }

    /// <summary>Transposes of every weight matrix: W (rows, cols) stored as W^T (cols, rows). Valid after Pack().</summary>
    public T[] Packed { get; }

    public Span<T> View(TensorSpec spec) => Parameters.AsSpan(spec.Offset, spec.Length);
    public Span<T> View(string name) => View(Layout[name]);

    /// <summary>W^T of a weight tensor, (cols, rows) row-major.</summary>
    public ReadOnlySpan<T> Transposed(TensorSpec spec)
    {
        int offset = _packedOffsets[spec.Index];
        if (offset < 0) throw new ArgumentException($"{spec.Name} is not a matrix", nameof(spec));
        return Packed.AsSpan(offset, spec.Length);
    }

    /// <summary>Refreshes every transposed copy from Parameters; call after any change to the weights.</summary>
    public void Pack()
    {
        for (int i = 0; i < Layout.Tensors.Count; i++)
        {
            var spec = Layout.Tensors[i];
            if (_packedOffsets[i] < 0) continue;
            int rows = spec.Shape[0], cols = spec.Shape[1];
            ReadOnlySpan<T> w = Parameters.AsSpan(spec.Offset, spec.Length);
            Span<T> wt = Packed.AsSpan(_packedOffsets[i], spec.Length);
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++) wt[c * rows + r] = w[r * cols + c];
            }
        }
    }

    /// <summary>PyTorch's default initialisation: every tensor uniform(-1/sqrt(H), 1/sqrt(H)) from the seeded RNG.</summary>
    public void InitializeUniform(Sampling.Rng rng, float forgetBias = 0f)
    {
        T bound = T.One / T.Sqrt(T.CreateTruncating(Config.Hidden));
        foreach (var spec in Layout.Tensors)
        {
            Span<T> p = View(spec);
            for (int i = 0; i < p.Length; i++) p[i] = (T.CreateTruncating(rng.NextFloat()) * T.CreateTruncating(2) - T.One) * bound;
        }
        if (forgetBias != 0f && Config.Cell == CellKind.Lstm)
        {
            // The forget gate is the second H-block of each bias; PyTorch sums bias_ih and bias_hh, so set it on one.
            for (int l = 0; l < Config.Layers; l++) View(Layout.BiasIh(l)).Slice(Config.Hidden, Config.Hidden).Fill(T.CreateTruncating(forgetBias));
            for (int l = 0; l < Config.Layers; l++) View(Layout.BiasHh(l)).Slice(Config.Hidden, Config.Hidden).Clear();
        }
        Pack();
    }

    /// <summary>A copy in another element type (float checkpoints into double gradient checks and back).</summary>
    public CharModel<TOther> ConvertTo<TOther>() where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var other = new CharModel<TOther>(Config);
        for (int i = 0; i < Parameters.Length; i++) other.Parameters[i] = TOther.CreateTruncating(Parameters[i]);
        other.Pack();
        return other;
    }
}
