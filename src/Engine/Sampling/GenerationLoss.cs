// Held-out loss of the logits generation itself computes: one SplitStepper step per character, from zero
// state, in the chosen weight format (one stream, n-1 predictions, as Evaluator). Evaluator's batched chunks
// are faster and give the same logits for float and bf16 weights; int8 weights exist only in the stepper, so
// this is how `charrnn eval --weights int8` measures what the 8-bit copy costs.
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Sampling;

public static class GenerationLoss
{
    /// <summary>Mean cross-entropy in nats per character over tokens.Length - 1 predictions.</summary>
    public static double Mean(CharModel<float> model, ReadOnlySpan<int> tokens, WeightFormat weights, int threads)
    {
        if (tokens.Length < 2) throw new InvalidDataException($"evaluation needs at least 2 characters, got {tokens.Length}");
        using var stepper = new SplitStepper(model, batch: 1, threads, weights);
        int[] token = new int[1];
        double total = 0;
        for (int t = 0; t + 1 < tokens.Length; t++)
        {
            token[0] = tokens[t];
            stepper.Step(token);
            total += CrossEntropy(stepper.Logits, tokens[t + 1]);
        }
        return total / (tokens.Length - 1);
    }

    /// <summary>-log softmax(logits)[target], in double: log(sum_v exp(l_v - max)) - (l_target - max).</summary>
    private static double CrossEntropy(ReadOnlySpan<float> logits, int target)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        return Math.Log(sum) - (logits[target] - max);
    }
}
