// Held-out loss the way a reader of the text experiences it: one stream from zero state over the whole
// text, predicting each character from all the previous ones (n-1 predictions), in chunks of T steps with
// the state carried between chunks. Allocates nothing per call once built.
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Training;

public sealed class Evaluator
{
    private readonly UnrolledModel<float> _unrolled;

    public Evaluator(CharModel<float> model, int chunk = 256)
    {
        _unrolled = new UnrolledModel<float>(model, batch: 1, steps: chunk);
    }

    /// <summary>Mean cross-entropy in nats per character over tokens.Length - 1 predictions.</summary>
    public double MeanLoss(ReadOnlySpan<int> tokens)
    {
        if (tokens.Length < 2) throw new InvalidDataException($"evaluation needs at least 2 characters, got {tokens.Length}");
        _unrolled.Model.Config.CheckTokens(tokens, nameof(tokens));
        _unrolled.ResetState();
        double total = 0;
        int predictions = tokens.Length - 1;
        for (int start = 0; start < predictions; start += _unrolled.Steps)
        {
            int steps = Math.Min(_unrolled.Steps, predictions - start);
            total += _unrolled.ForwardLoss(tokens.Slice(start, steps), tokens.Slice(start + 1, steps), steps) * steps;
            _unrolled.CarryState();
        }
        return total / predictions;
    }
}
