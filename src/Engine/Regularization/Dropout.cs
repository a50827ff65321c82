// How much of the network dropout silences while training: Output drops elements of every recurrent layer's
// output (the input of the layer above and of the head), fresh at every step; Recurrent drops elements of
// h(t-1) on its way into the recurrent product, one mask per window per layer (Gal & Ghahramani 2016).
namespace CharRnn.Engine.Regularization;

public readonly record struct Dropout(float Output, float Recurrent)
{
    public static readonly Dropout None = default;

    public bool Any => Output > 0 || Recurrent > 0;

    public Dropout Validated()
    {
        if (!(Output >= 0 && Output < 1)) throw new ArgumentOutOfRangeException(nameof(Output), Output, "dropout must be in [0, 1)");
        if (!(Recurrent >= 0 && Recurrent < 1)) throw new ArgumentOutOfRangeException(nameof(Recurrent), Recurrent, "recurrent dropout must be in [0, 1)");
        return this;
    }
}
