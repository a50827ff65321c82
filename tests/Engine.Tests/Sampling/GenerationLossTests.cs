// The loss of generation's own logits: for float and bf16 weights it is the evaluator's (the same logits,
// computed one character at a time instead of in batched chunks); for int8 weights it moves only a little.
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;

namespace CharRnn.Engine.Tests.Sampling;

public class GenerationLossTests
{
    private const int V = 11;

    /// <summary>Both sum the same per-character float losses in double, but the evaluator sums each chunk's mean
    /// times its length: ~1e-7 relative apart at most.</summary>
    private const double SameLogitsRelative = 1e-6;

    /// <summary>int8 weights against float ones, relative: a character's loss, lse(z) - z[target], moves by at most
    /// twice the largest change of its logits, and int8 rounding changes these logits by at most 3.1e-4 (measured),
    /// so the mean by 6e-4 (2.6e-4 relative) at most; measured 5e-7. 1e-3 relative, and no more: this random model's
    /// loss is only 2.7e-3 relative above ln V, the loss of logits that carry nothing, which the test must tell
    /// apart (it asserts so).</summary>
    private const double Int8LossRelative = 1e-3;

    private static (CharModel<float> Model, int[] Tokens) Setup()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, V, 48, 2));
        model.InitializeUniform(new Rng(21));
        var random = new Random(2);
        return (model, Enumerable.Range(0, 600).Select(_ => random.Next(V)).ToArray());
    }

    [Fact]
    public void FloatAndBFloat16_GiveTheEvaluatorsLoss()
    {
        var (model, tokens) = Setup();
        double f32 = new Evaluator(model).MeanLoss(tokens), bf16 = new Evaluator(model.RoundedToBFloat16()).MeanLoss(tokens);
        Assert.Equal(f32, GenerationLoss.Mean(model, tokens, WeightFormat.Float32, threads: 2), SameLogitsRelative * f32);
        Assert.Equal(bf16, GenerationLoss.Mean(model, tokens, WeightFormat.BFloat16, threads: 1), SameLogitsRelative * bf16);
        Assert.NotEqual(f32, bf16);
    }

    [Fact]
    public void Int8_MovesTheLossOnlyALittle_AndNotWithThreads()
    {
        var (model, tokens) = Setup();
        double f32 = new Evaluator(model).MeanLoss(tokens);
        double one = GenerationLoss.Mean(model, tokens, WeightFormat.Int8, threads: 1), two = GenerationLoss.Mean(model, tokens, WeightFormat.Int8, threads: 2);
        Assert.Equal(one, two);
        Assert.NotEqual(f32, one);
        Assert.True(Math.Abs(one - f32) < Int8LossRelative * f32, $"int8 moved the loss from {f32} to {one}");
        Assert.True(Math.Abs(f32 - Math.Log(V)) > Int8LossRelative * f32, $"the loss {f32} is too near ln V for the check to tell int8 logits that carry nothing");
    }

    [Fact]
    public void FewerThanTwoTokens_AreRejected()
    {
        var (model, _) = Setup();
        Assert.Throws<InvalidDataException>(() => GenerationLoss.Mean(model, [1], WeightFormat.Int8, 1));
    }
}
