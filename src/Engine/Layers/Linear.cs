// The head: logits = x W^T + b, as torch.nn.Linear, over all T*B rows at once.
using System.Numerics;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Threading;

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
        InputGradient(dOutput, dInput, rows, accumulate: false);
        AccumulateWeightGradients(input, dOutput, gradients, rows, part: 0, parts: 1);
    }

    /// <summary>dInput (rows, H) [+]= dOutput (rows, V) W.</summary>
    public void InputGradient(ReadOnlySpan<T> dOutput, Span<T> dInput, int rows, bool accumulate)
    {
        // forward: logits = x W^T + b  =>  dx = dlogits W
        _model.MultiplyBy(dOutput[..(rows * _out)], _weight, dInput, rows, accumulate);
    }

    /// <summary>Adds dW and db for output rows WorkSplit.Range(V, part, parts) into gradients.</summary>
    public void AccumulateWeightGradients(ReadOnlySpan<T> input, ReadOnlySpan<T> dOutput, Span<T> gradients, int rows, int part, int parts)
    {
        var (first, end) = WorkSplit.Range(_out, part, parts);
        if (first == end) return;
        ReadOnlySpan<T> dLogits = dOutput[..(rows * _out)];
        // forward: logits = x W^T + b  =>  dW rows [first, end) += (columns [first, end) of dlogits)^T x;
        // db += column sums of dlogits
        Kernels.AccumulateWeightAndBiasGradients(dLogits, _out, first, end - first, input[..(rows * _in)], _in,
            gradients.Slice(_weight.Offset + first * _in, (end - first) * _in), gradients.Slice(_bias.Offset + first, end - first), rows);
    }
}
