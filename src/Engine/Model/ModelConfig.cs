// The shape of a character model: which recurrent cell, how many stacked layers of how many units, over
// which vocabulary size. Everything else (buffers, parameter names, checkpoint metadata) derives from it.
namespace CharRnn.Engine.Model;

public enum CellKind { Lstm, Gru, Rnn }

public sealed record ModelConfig(CellKind Cell, int VocabSize, int Hidden, int Layers)
{
    /// <summary>Gates per unit: 4 (i f g o) for LSTM, 3 (r z n) for GRU, 1 for the tanh RNN.</summary>
    public int GatesPerUnit => Cell switch { CellKind.Lstm => 4, CellKind.Gru => 3, _ => 1 };

    /// <summary>Whether b_hh can join b_ih in the projection (LSTM, RNN) or must stay inside the step (GRU, whose
    /// reset gate multiplies h(t-1) W_hh^T + b_hh): training and generation both add the biases by this rule.</summary>
    public bool FoldsRecurrentBias => Cell != CellKind.Gru;

    /// <summary>G: width of one row of gate pre-activations.</summary>
    public int GateWidth => GatesPerUnit * Hidden;

    /// <summary>The PyTorch module attribute the recurrent tensors are named under: lstm, gru or rnn.</summary>
    public string ModuleName => CellName(Cell);

    /// <summary>D of layer l: the vocabulary for layer 0 (one-hot), H above it.</summary>
    public int InputWidth(int layer) => layer == 0 ? VocabSize : Hidden;

    public static string CellName(CellKind cell) => cell switch { CellKind.Lstm => "lstm", CellKind.Gru => "gru", _ => "rnn" };

    public static CellKind ParseCell(string name) => name.ToLowerInvariant() switch
    {
        "lstm" => CellKind.Lstm,
        "gru" => CellKind.Gru,
        "rnn" => CellKind.Rnn,
        _ => throw new ArgumentException($"unknown cell '{name}'; expected lstm, gru or rnn", nameof(name)),
    };

    public ModelConfig Validated()
    {
        if (VocabSize < 1) throw new ArgumentOutOfRangeException(nameof(VocabSize), VocabSize, "vocabulary size must be at least 1");
        if (Hidden < 1) throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, "hidden size must be at least 1");
        if (Layers < 1) throw new ArgumentOutOfRangeException(nameof(Layers), Layers, "layer count must be at least 1");
        // In 64 bits: GateWidth itself overflows an int past H ~ 5e8, and the layers' sum long before that.
        long largestMatrix = (long)GatesPerUnit * Hidden * Math.Max(VocabSize, Hidden);
        if (largestMatrix > int.MaxValue / 2)
            throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, $"hidden size {Hidden} with a vocabulary of {VocabSize} makes a weight matrix of {largestMatrix} values, too large for one parameter slab");
        long parameters = ParameterCount;
        if (parameters > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(Layers), Layers, $"{parameters:N0} parameters, more than one parameter slab holds ({Array.MaxLength:N0})");
        return this;
    }

    /// <summary>
    /// Throws unless every token is a symbol of this vocabulary: the layers index embedding rows and logits by
    /// token without a check of their own (a token past V would read another symbol's row, or past the array).
    /// </summary>
    public void CheckTokens(ReadOnlySpan<int> tokens, string paramName)
    {
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(paramName, $"token {tokens[i]} at position {i} is outside the vocabulary of {VocabSize} symbols");
        }
    }

    /// <summary>
    /// Every weight and bias (ParameterLayout's TotalLength), counted in 128 bits and capped at long.MaxValue, so
    /// that any shape, however far too large, says so instead of wrapping.
    /// </summary>
    public long ParameterCount
    {
        get
        {
            Int128 gates = (Int128)GatesPerUnit * Hidden, count = 0;
            for (int layer = 0; layer < Layers && count <= long.MaxValue; layer++) count += gates * ((Int128)InputWidth(layer) + Hidden) + 2 * gates;
            count += (Int128)VocabSize * Hidden + VocabSize;
            return count > long.MaxValue ? long.MaxValue : (long)count;
        }
    }
}
