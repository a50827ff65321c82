// A character model's parameters: one slab holding every named tensor (PyTorch layout, e.g. weight_ih (G, D)),
// plus the copies the products read, refreshed once per optimizer step by Pack(). In float models the
// recurrent weights W_hh are kept in the GEMM's panel layout both as W^T (forward: a += h W_hh^T) and as W
// (backward: dh = da W_hh), so the per-time-step products never pack. The other weights (W_ih above the
// first layer, the head) are multiplied once per window over all T*B rows, where packing per call costs next
// to nothing, so their products read the parameters in place and no copy is kept (8.7 MB less at W1).
// Plain transposes W^T for the rest (the rows the one-hot first layer gathers, and every weight of a double
// or scalar-width model, whose products read them).
// Generic over the element type so the same layers run in float (training) and double (gradient checks).
// Deliberately not here: activations (sized per batch and window, see UnrolledModel) and optimizer state.
using System.Numerics;
using System.Runtime.InteropServices;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Model;

public sealed class CharModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly int[] _packedOffsets;              // per tensor: where its transpose starts in Packed (-1: none kept)
    private readonly PackedMatrix?[] _forwardPanels;    // per tensor: B = W^T (in, out) in panels; W_hh of float models only
    private readonly PackedMatrix?[] _backwardPanels;   // per tensor: B = W (out, in) in panels; the same tensors
    private readonly SimdWidth _width;                  // the width float products run at

    public CharModel(ModelConfig config) : this(config, Simd.Best)
    {
    }

    /// <summary>A model whose float products run at the given width (tests pin widths; Scalar packs no panels).</summary>
    public CharModel(ModelConfig config, SimdWidth width)
    {
        Layout = new ParameterLayout(config);
        Parameters = new T[Layout.TotalLength];
        _forwardPanels = new PackedMatrix?[Layout.Tensors.Count];
        _backwardPanels = new PackedMatrix?[Layout.Tensors.Count];
        _packedOffsets = new int[Layout.Tensors.Count];
        _width = width;
        bool panels = typeof(T) == typeof(float) && width != SimdWidth.Scalar;
        var jobs = new List<(int Tensor, PackJob Job)>();
        int packed = 0;
        for (int i = 0; i < Layout.Tensors.Count; i++)
        {
            var spec = Layout.Tensors[i];
            _packedOffsets[i] = -1;
            if (spec.Shape.Length != 2) continue;
            if (panels && IsRecurrentWeight(spec))
            {
                int rows = spec.Shape[0], cols = spec.Shape[1]; // (out, in)
                _forwardPanels[i] = new PackedMatrix(cols, rows, width);
                _backwardPanels[i] = new PackedMatrix(rows, cols, width);
                jobs.Add((i, PackJob.ForwardPanels));
                jobs.Add((i, PackJob.BackwardPanels));
            }
            else if (panels && spec.Index != Layout.WeightIh(0).Index)
            {
                continue; // multiplied in place (per-call packing)
            }
            else
            {
                _packedOffsets[i] = packed;
                packed += spec.Length;
                jobs.Add((i, PackJob.Transpose));
            }
        }
        Packed = new T[packed];
        _packJobs = jobs.ToArray();
    }

    private enum PackJob { Transpose, ForwardPanels, BackwardPanels }

    private bool IsRecurrentWeight(TensorSpec spec)
    {
        for (int l = 0; l < Config.Layers; l++) if (spec.Index == Layout.WeightHh(l).Index) return true;
        return false;
    }

    // Pack()'s work as independent jobs of similar size (a weight's two panel copies are separate jobs), so
    // Pack(part, parts) can share it among threads.
    private readonly (int Tensor, PackJob Job)[] _packJobs;

    public ModelConfig Config => Layout.Config;
    public ParameterLayout Layout { get; }

    /// <summary>Every parameter, in Layout order; gradients and optimizer moments share this layout.</summary>
    public T[] Parameters { get; }

    /// <summary>Plain transposes W^T (cols, rows) of the weights no panels serve and no product reads in place:
    /// the one-hot layer's W_ih, and every weight of a double or scalar-width model. Valid after Pack().</summary>
    public T[] Packed { get; }

    public Span<T> View(TensorSpec spec) => Parameters.AsSpan(spec.Offset, spec.Length);
    public Span<T> View(string name) => View(Layout[name]);

    /// <summary>W^T of a weight tensor, (cols, rows) row-major: kept for the one-hot layer's W_ih and, in double or scalar-width models, every weight.</summary>
    public ReadOnlySpan<T> Transposed(TensorSpec spec)
    {
        int offset = _packedOffsets[spec.Index];
        if (offset < 0) throw new ArgumentException($"{spec.Name} has no plain transpose (a bias, or a weight multiplied through its panels or in place)", nameof(spec));
        return Packed.AsSpan(offset, spec.Length);
    }

    /// <summary>y (rows, out) = [y +] x (rows, in) W^T: a layer's forward product.</summary>
    public void MultiplyByTransposed(ReadOnlySpan<T> x, TensorSpec weight, Span<T> y, int rows, bool accumulate)
    {
        int outputs = weight.Shape[0], inputs = weight.Shape[1];
        if (_forwardPanels[weight.Index] is PackedMatrix panels)
            Gemm.Multiply(Kernels.AsSingle(x), inputs, 1, panels, Kernels.AsSingle(y), outputs, rows, accumulate);
        else if (_packedOffsets[weight.Index] < 0) // a float weight multiplied in place
            Gemm.MultiplyByTransposed(Kernels.AsSingle(x), inputs, Kernels.AsSingle<T>(View(weight)), inputs, Kernels.AsSingle(y), outputs, rows, outputs, inputs, accumulate, _width);
        else
            Kernels.MatMul(x[..(rows * inputs)], Transposed(weight), y[..(rows * outputs)], rows, outputs, inputs, accumulate);
    }

    /// <summary>dx (rows, in) = [dx +] dy (rows, out) W: the product backward sends to a layer's input.</summary>
    public void MultiplyBy(ReadOnlySpan<T> dy, TensorSpec weight, Span<T> dx, int rows, bool accumulate)
    {
        int outputs = weight.Shape[0], inputs = weight.Shape[1];
        if (_backwardPanels[weight.Index] is PackedMatrix panels)
            Gemm.Multiply(Kernels.AsSingle(dy), outputs, 1, panels, Kernels.AsSingle(dx), inputs, rows, accumulate);
        else if (Kernels.IsSingle<T>() && _width != SimdWidth.Scalar)
            Gemm.Multiply(Kernels.AsSingle(dy), outputs, 1, Kernels.AsSingle<T>(View(weight)), inputs, Kernels.AsSingle(dx), inputs, rows, inputs, outputs, accumulate, _width);
        else
            Kernels.MatMul<T>(dy[..(rows * outputs)], View(weight), dx[..(rows * inputs)], rows, inputs, outputs, accumulate);
    }

    /// <summary>Refreshes every transposed and panel copy from Parameters; call after any change to the weights.</summary>
    public void Pack() => Pack(0, 1);

    /// <summary>Part `part` of Pack() when `parts` threads share it; all parts together do exactly Pack().</summary>
    public void Pack(int part, int parts)
    {
        if (parts < 1 || part < 0 || part >= parts) throw new ArgumentOutOfRangeException(nameof(part), $"part {part} of {parts}: expected 0 <= part < parts");
        for (int j = part; j < _packJobs.Length; j += parts)
        {
            var (i, job) = _packJobs[j];
            var spec = Layout.Tensors[i];
            int rows = spec.Shape[0], cols = spec.Shape[1];
            ReadOnlySpan<T> w = Parameters.AsSpan(spec.Offset, spec.Length);
            switch (job)
            {
                case PackJob.ForwardPanels: _forwardPanels[i]!.PackTransposed(MemoryMarshal.Cast<T, float>(w), cols); break;
                case PackJob.BackwardPanels: _backwardPanels[i]!.Pack(MemoryMarshal.Cast<T, float>(w), cols); break;
                default: Transpose(w, Packed.AsSpan(_packedOffsets[i], spec.Length), rows, cols); break;
            }
        }
    }

    private static void Transpose(ReadOnlySpan<T> w, Span<T> wt, int rows, int cols)
    {
        const int Block = 32; // 32 x 32 tiles: both the rows read and the rows written stay in L1
        for (int r0 = 0; r0 < rows; r0 += Block)
        {
            for (int c0 = 0; c0 < cols; c0 += Block)
            {
                int rEnd = Math.Min(rows, r0 + Block), cEnd = Math.Min(cols, c0 + Block);
                for (int r = r0; r < rEnd; r++)
                {
                    for (int c = c0; c < cEnd; c++) wt[c * rows + r] = w[r * cols + c];
                }
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

    /// <summary>A copy with every weight matrix rounded to bf16 (biases unchanged): the model bf16 generation runs.</summary>
    public CharModel<T> RoundedToBFloat16()
    {
        var copy = new CharModel<T>(Config);
        Parameters.CopyTo(copy.Parameters, 0);
        foreach (var spec in Layout.Tensors)
        {
            if (spec.Shape.Length != 2) continue;
            Span<T> weights = copy.View(spec);
            for (int i = 0; i < weights.Length; i++) weights[i] = T.CreateTruncating(Numerics.BFloat16.Round(float.CreateTruncating(weights[i])));
        }
        copy.Pack();
        return copy;
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
