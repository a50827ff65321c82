// A self-contained SVG line chart: axes with round-number ticks (or powers of ten on a log scale), one
// polyline per series, a legend and a title. No scripts, fonts or stylesheets from elsewhere, so the file
// opens in any browser or image viewer. Non-finite points (and non-positive ones on a log axis) are gaps.
using System.Globalization;
using System.Security;
using System.Text;

namespace CharRnn.Runner.Plots;

public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

public sealed class LineChart
{
    private const double Width = 760, Height = 440, Left = 78, Right = 170, Top = 42, Bottom = 56;
    private static readonly string[] Palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public required string Title { get; init; }
    public required string XLabel { get; init; }
    public required string YLabel { get; init; }
    public bool LogY { get; init; }
    public List<Series> Series { get; } = [];

    /// <summary>This chart as a standalone SVG document.</summary>
    public string ToSvg() => Figure([this]);

    /// <summary>Several charts stacked vertically in one SVG document.</summary>
    public static string Figure(IReadOnlyList<LineChart> charts)
    {
        var svg = new StringBuilder();
        double total = Height * charts.Count;
        svg.Append(Invariant, $"""<svg xmlns="http://www.w3.org/2000/svg" width="{Width}" height="{total}" viewBox="0 0 {Width} {total}" font-family="sans-serif" font-size="12">""").Append('\n');
        svg.Append(Invariant, $"""<rect x="0" y="0" width="{Width}" height="{total}" fill="white"/>""").Append('\n');
        for (int i = 0; i < charts.Count; i++)
        {
            svg.Append(Invariant, $"""<g transform="translate(0 {i * Height})">""").Append('\n');
            charts[i].AppendBody(svg);
            svg.Append("</g>\n");
        }
        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private void AppendBody(StringBuilder svg)
    {
        var points = Series.SelectMany(s => s.X.Zip(s.Y)).Where(p => Usable(p.First, p.Second)).ToList();
        double xMin = points.Count > 0 ? points.Min(p => p.First) : 0, xMax = points.Count > 0 ? points.Max(p => p.First) : 1;
        double yMin = points.Count > 0 ? points.Min(p => Scale(p.Second)) : 0, yMax = points.Count > 0 ? points.Max(p => Scale(p.Second)) : 1;
        if (xMax <= xMin) xMax = xMin + 1;
        if (LogY) { yMin = Math.Floor(yMin); yMax = Math.Ceiling(yMax); if (yMax <= yMin) yMax = yMin + 1; }
        else { double pad = (yMax - yMin) * 0.05; if (pad == 0) pad = Math.Max(Math.Abs(yMax) * 0.05, 0.5); yMin -= pad; yMax += pad; }

        double plotWidth = Width - Left - Right, plotHeight = Height - Top - Bottom;
        double Px(double x) => Left + (x - xMin) / (xMax - xMin) * plotWidth;
        double Py(double scaledY) => Top + (1 - (scaledY - yMin) / (yMax - yMin)) * plotHeight;

        svg.Append(Invariant, $"""<text x="{Width / 2:F1}" y="24" text-anchor="middle" font-size="15">{Escape(Title)}</text>""").Append('\n');

        foreach (double x in NiceTicks(xMin, xMax, 8))
        {
            double px = Px(x);
            svg.Append(Invariant, $"""<line x1="{px:F1}" y1="{Top:F1}" x2="{px:F1}" y2="{Top + plotHeight:F1}" stroke="#e5e5e5"/>""");
            svg.Append(Invariant, $"""<text x="{px:F1}" y="{Top + plotHeight + 16:F1}" text-anchor="middle">{Escape(Format(x))}</text>""").Append('\n');
        }
        var yTicks = LogY ? Enumerable.Range((int)yMin, (int)(yMax - yMin) + 1).Select(e => (double)e).ToList() : NiceTicks(yMin, yMax, 7);
        if (LogY && yTicks.Count > 12) yTicks = yTicks.Where(e => ((int)e - (int)yMin) % (int)Math.Ceiling(yTicks.Count / 12.0) == 0).ToList();
        foreach (double y in yTicks)
        {
            double py = Py(y);
            string label = LogY ? $"1e{(int)y}" : Format(y);
            svg.Append(Invariant, $"""<line x1="{Left:F1}" y1="{py:F1}" x2="{Left + plotWidth:F1}" y2="{py:F1}" stroke="#e5e5e5"/>""");
            svg.Append(Invariant, $"""<text x="{Left - 6:F1}" y="{py + 4:F1}" text-anchor="end">{Escape(label)}</text>""").Append('\n');
        }
        svg.Append(Invariant, $"""<rect x="{Left:F1}" y="{Top:F1}" width="{plotWidth:F1}" height="{plotHeight:F1}" fill="none" stroke="#333"/>""").Append('\n');
        svg.Append(Invariant, $"""<text x="{Left + plotWidth / 2:F1}" y="{Height - 14:F1}" text-anchor="middle">{Escape(XLabel)}</text>""").Append('\n');
        svg.Append(Invariant, $"""<text transform="translate(18 {Top + plotHeight / 2:F1}) rotate(-90)" text-anchor="middle">{Escape(YLabel + (LogY ? " (log scale)" : ""))}</text>""").Append('\n');

        for (int i = 0; i < Series.Count; i++)
        {
            string color = Palette[i % Palette.Length];
            var series = Series[i];
            foreach (var run in Runs(series))
            {
                if (run.Count == 1)
                {
                    svg.Append(Invariant, $"""<circle cx="{Px(run[0].X):F1}" cy="{Py(Scale(run[0].Y)):F1}" r="2.5" fill="{color}"/>""").Append('\n');
                    continue;
                }
                svg.Append(Invariant, $"""<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{string.Join(" ", run.Select(p => string.Create(Invariant, $"{Px(p.X):F1},{Py(Scale(p.Y)):F1}")))}"/>""").Append('\n');
            }
            double ly = Top + 12 + i * 20;
            svg.Append(Invariant, $"""<line x1="{Width - Right + 14:F1}" y1="{ly:F1}" x2="{Width - Right + 38:F1}" y2="{ly:F1}" stroke="{color}" stroke-width="3"/>""");
            svg.Append(Invariant, $"""<text x="{Width - Right + 44:F1}" y="{ly + 4:F1}">{Escape(series.Name)}</text>""").Append('\n');
        }
    }

    private bool Usable(double x, double y) => double.IsFinite(x) && double.IsFinite(y) && (!LogY || y > 0);

    private double Scale(double y) => LogY ? Math.Log10(y) : y;

    /// <summary>The series split at unusable points, so a gap shows as a gap rather than a line to zero.</summary>
    private IEnumerable<List<(double X, double Y)>> Runs(Series series)
    {
        var run = new List<(double, double)>();
        for (int i = 0; i < Math.Min(series.X.Count, series.Y.Count); i++)
        {
            if (Usable(series.X[i], series.Y[i])) { run.Add((series.X[i], series.Y[i])); continue; }
            if (run.Count > 0) { yield return run; run = []; }
        }
        if (run.Count > 0) yield return run;
    }

    /// <summary>About `count` ticks at 1, 2 or 5 times a power of ten inside [min, max].</summary>
    private static List<double> NiceTicks(double min, double max, int count)
    {
        // A range of a few ulp (two losses a rounding apart, steps near 2^53) would make a step that adding to t
        // no longer changes: widen it to a tenth of a percent of the values first, so the loop always ends.
        double floor = Math.Max(Math.Max(Math.Abs(min), Math.Abs(max)) * 1e-3, 1e-9);
        if (max - min < floor) { double middle = min / 2 + max / 2; min = middle - floor; max = middle + floor; }
        double raw = (max - min) / count, magnitude = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = new[] { 1.0, 2, 5, 10 }.Select(m => m * magnitude).First(s => s >= raw);
        var ticks = new List<double>();
        for (double t = Math.Ceiling(min / step) * step; t <= max + step * 1e-9; t += step) ticks.Add(Math.Abs(t) < step * 1e-9 ? 0 : t);
        return ticks;
    }

    private static string Format(double v) => Math.Abs(v) >= 1e5 || (v != 0 && Math.Abs(v) < 1e-3) ? v.ToString("0.##E0", Invariant) : v.ToString("0.###", Invariant);

    /// <summary>Text for SVG: XML's five special characters escaped, and the control characters XML 1.0 forbids dropped.</summary>
    private static string Escape(string text) =>
        SecurityElement.Escape(new string(text.Where(c => c >= ' ' || c is '\t' or '\n' or '\r').ToArray())) ?? "";
}
