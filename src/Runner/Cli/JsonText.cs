// Numbers as the runner writes them into its JSON (the metrics log, eval --json): invariant culture, round-trip
// precision, and null for what JSON cannot represent.
using System.Globalization;

namespace CharRnn.Runner.Cli;

public static class JsonText
{
    /// <summary>A JSON number, or null for NaN and infinities (which JSON cannot represent).</summary>
    public static string Number(double value) => double.IsFinite(value) ? value.ToString("R", CultureInfo.InvariantCulture) : "null";
}
