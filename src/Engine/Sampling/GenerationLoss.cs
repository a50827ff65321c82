// Held-out loss of the logits generation itself computes: one SplitStepper step per character, from zero
// state, in the chosen weight format (one stream, n-1 predictions, as Evaluator). Evaluator's batched chunks
// are faster and give the same logits for float and bf16 weights; int8 weights exist only in the stepper, so
// this is how `charrnn eval --weights int8` measures what the 8-bit copy costs.
using CharRnn.Engine.Layers;
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Sampling;

public static class GenerationLoss
{
    /// <summary>Mean cross-entropy in nats per character over tokens.Length - 1 predictions.</summary>
    public static double Mean(CharModel<float> model, ReadOnlySpan<int> tokens, WeightFormat weights, int threads)
    {
        if (tokens.Length < 2) throw new InvalidDataException($"evaluation needs at least 2 characters, got {tokens.Length}");
        model.Config.CheckTokens(tokens, nameof(tokens));
        using var stepper = new SplitStepper(model, batch: 1, threads, weights);
        int[] token = new int[1];
        float[] probabilities = new float[model.Config.VocabSize]; // (V) the loss's scratch
        double total = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            token[0] = tokens[t];
            stepper.Step(token);
            // The evaluator's loss on one row: -log softmax(logits)[next character].
            total += SoftmaxCrossEntropy.Forward<float>(stepper.Logits, tokens.Slice(t + 1, 1), probabilities, probabilities.Length);
        }
        return total / (tokens.Length - 1);
    }
}
