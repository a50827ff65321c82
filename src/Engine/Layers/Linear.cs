// The head: logits = x W^T + b, as torch.nn.Linear, over all T*B rows at once.
using System.Numerics;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;

namespace CharRnn.Engine.Layers;

public sealed class Linear<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CharModel<T> _model;
    private readonly TensorSpec _weight, _bias; // (V, H), (V)
    private readonly int _in, _out;

    public Linear(CharModel<T> model)
    {
        _model = model;
        _weight = model.Layout.HeadWeight;
        _bias = model.Layout.HeadBias;
        _out = _weight.Shape[0];
        _in = _weight.Shape[1];
    }

    /// <summary>output (rows, V) = input (rows, H) W^T + b.</summary>
    public void Forward(ReadOnlySpan<T> input, Span<T> output, int rows)
    {
        Span<T> logits = output[..(rows * _out)];
        Kernels.AddBiasToRows<T>(_model.View(_bias), logits, accumulate: false);
        _model.MultiplyByTransposed(input, _weight, logits, rows, accumulate: true);
    }

    /// <summary>Accumulates dW, db into gradients; overwrites dInput (rows, H).</summary>
    public void Backward(ReadOnlySpan<T> input, ReadOnlySpan<T> dOutput, Span<T> dInput, Span<T> gradients, int rows)
    {
        ReadOnlySpan<T> dLogits = dOutput[..(rows * _out)];
        // forward: logits = x W^T + b  =>  dW += dlogits^T x;  db += sum of dlogits rows;  dx = dlogits W
        Kernels.MatMulTransposedA(dLogits, input[..(rows * _in)], gradients.Slice(_weight.Offset, _weight.Length), _out, _in, rows, accumulate: true);
        Kernels.AddColumnSums(dLogits, gradients.Slice(_bias.Offset, _bias.Length));
        _model.MultiplyBy(dLogits, _weight, dInput, rows, accumulate: false);
    }
}
