// The training picture: train and held-out loss (nats/char) against optimizer step and against wall time, as
// one SVG of two stacked charts. The per-step train loss is noisy (each step sees one window), so it is drawn
// as an exponential moving average (the same 0.9/0.1 smoothing the progress line prints); held-out loss is
// drawn as measured at each validation.
namespace CharRnn.Runner.Plots;

/// <summary>One optimizer step of a metrics log; ValidationLoss only at validation steps.</summary>
public readonly record struct StepRecord(long Step, double Seconds, double Loss, double? ValidationLoss);

public static class LossPlot
{
    public static string Svg(IReadOnlyList<StepRecord> records, string title)
    {
        var steps = new List<double>(); var minutes = new List<double>(); var smoothed = new List<double>();
        var valSteps = new List<double>(); var valMinutes = new List<double>(); var valLoss = new List<double>();
        double average = double.NaN;
        foreach (var r in records)
        {
            if (double.IsFinite(r.Loss)) average = double.IsNaN(average) ? r.Loss : 0.9 * average + 0.1 * r.Loss;
            // A non-finite loss is a gap in the line (the chart's unusable point), not the last average carried flat.
            steps.Add(r.Step); minutes.Add(r.Seconds / 60); smoothed.Add(double.IsFinite(r.Loss) ? average : double.NaN);
            if (r.ValidationLoss is double v) { valSteps.Add(r.Step); valMinutes.Add(r.Seconds / 60); valLoss.Add(v); }
        }
        LineChart Chart(string xLabel, List<double> x, List<double> valX) => new()
        {
            Title = title,
            XLabel = xLabel,
            YLabel = "loss (nats/char)",
            Series = { new Series("train (smoothed)", x, smoothed), new Series("held-out", valX, valLoss) },
        };
        return LineChart.Figure([Chart("optimizer step", steps, valSteps), Chart("wall time (minutes)", minutes, valMinutes)]);
    }
}
