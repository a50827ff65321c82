// Centered finite differences in double precision, compared with analytic gradients by the relative error
// |a - n| / max(|a| + |n|, 1e-12). The five-point centered stencil
//   f'(x) ~ (f(x-2h) - 8 f(x-h) + 8 f(x+h) - f(x+2h)) / 12h      (truncation error O(h^4))
// lets h be large enough that rounding noise (~1e-16 |f| / h) stays far below even the smallest gradients
// a small LSTM produces (~1e-7), which the plain two-point difference cannot resolve to 1e-5 relative.
using CharRnn.Engine.Model;

namespace CharRnn.Engine.Tests;

internal static class GradientCheck
{
    public const double Step = 1e-3; // truncation ~h^4 = 1e-12, rounding ~1e-16/h = 1e-13

    public static double RelativeError(double analytic, double numeric) =>
        Math.Abs(analytic - numeric) / Math.Max(Math.Abs(analytic) + Math.Abs(numeric), 1e-12);

    /// <summary>Perturbs each values[i], re-evaluates loss(), and asserts the analytic gradient matches.</summary>
    public static void Assert(string what, double[] values, ReadOnlySpan<double> analytic, Func<double> loss, int offset = 0, int count = -1)
    {
        if (count < 0) count = analytic.Length;
        double worst = 0;
        int worstIndex = -1;
        double worstNumeric = 0;
        for (int i = 0; i < count; i++)
        {
            double saved = values[offset + i];
            double At(double delta) { values[offset + i] = saved + delta; return loss(); }
            // Differences first: equal function values then cancel exactly instead of leaving rounding residue.
            double numeric = (8 * (At(Step) - At(-Step)) - (At(2 * Step) - At(-2 * Step))) / (12 * Step);
            values[offset + i] = saved;
            double error = RelativeError(analytic[i], numeric);
            if (error > worst) { worst = error; worstIndex = i; worstNumeric = numeric; }
        }
        Xunit.Assert.True(worst <= Tolerances.GradientCheckRelative,
            $"{what}: worst relative error {worst:E2} at element {worstIndex} (analytic {analytic[Math.Max(worstIndex, 0)]:E6}, numeric {worstNumeric:E6})");
    }

    /// <summary>
    /// The whole unrolled model's Backward on (inputs, targets) of `steps` steps, from its current carried state
    /// and masks, against finite differences of ForwardLoss for every parameter tensor. With firstLossStep or
    /// meanRows, the loss differentiated is the one they define, written here from the definition: the
    /// cross-entropy -log softmax(z)[y] = log sum exp(z) - z[y] of the rows of steps firstLossStep.., summed and
    /// divided by meanRows (default: all steps * B rows, as ForwardLoss's mean); Backward runs as its two halves,
    /// BackwardThroughTime(targets, firstLossStep, meanRows) then AccumulateWeightGradients, when meanRows is set.
    /// </summary>
    public static void AssertModel(string what, UnrolledModel<double> unrolled, int[] inputs, int[] targets, int steps,
        int firstLossStep = 0, int meanRows = 0)
    {
        var model = unrolled.Model;
        int rows = steps * unrolled.Batch, first = firstLossStep * unrolled.Batch, vocab = model.Config.VocabSize;
        double PartialLoss()
        {
            unrolled.Forward(inputs, steps);
            ReadOnlySpan<double> logits = unrolled.Logits;
            double total = 0;
            for (int n = first; n < rows; n++)
            {
                ReadOnlySpan<double> z = logits.Slice(n * vocab, vocab);
                double max = double.NegativeInfinity, sum = 0;
                foreach (double x in z) max = Math.Max(max, x);
                foreach (double x in z) sum += Math.Exp(x - max);
                total += max + Math.Log(sum) - z[targets[n]];
            }
            return total / (meanRows > 0 ? meanRows : rows);
        }
        bool plain = firstLossStep == 0 && meanRows == 0;
        double Loss() { model.Pack(); return plain ? unrolled.ForwardLoss(inputs, targets, steps) : PartialLoss(); }
        unrolled.ForwardLoss(inputs, targets, steps); // what Backward differentiates: its probabilities
        var gradients = new double[model.Parameters.Length];
        if (meanRows == 0) unrolled.Backward(inputs, targets, gradients, firstLossStep);
        else
        {
            unrolled.BackwardThroughTime(targets, firstLossStep, meanRows);
            unrolled.AccumulateWeightGradients(inputs, gradients, part: 0, parts: 1);
        }
        foreach (var spec in model.Layout.Tensors)
            Assert($"{what} {spec.Name}", model.Parameters, gradients.AsSpan(spec.Offset, spec.Length), Loss, spec.Offset, spec.Length);
    }
}
