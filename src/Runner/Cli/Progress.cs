// Training progress on standard error. On a terminal: one live line redrawn in place (a bar, the fraction
// done, then the caller's status, which leads with chars/s and ETA so a narrow terminal cuts the losses first), with messages (validation, checkpoints, samples) printed above it. Redirected (CI,
// a log file, a test): a plain status line every couple of seconds, since carriage returns would only
// clutter a file.
namespace CharRnn.Runner.Cli;

public sealed class Progress(TextWriter error, bool live)
{
    private const int BarWidth = 20;
    private const double PlainInterval = 2.0, LiveInterval = 0.25; // seconds between updates
    private double _lastUpdate = double.NegativeInfinity;
    private int _drawnLength;

    /// <summary>Live when error is the process's standard error and that is a terminal.</summary>
    public static Progress For(TextWriter error) =>
        new(error, ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected);

    /// <summary>Shows status (fraction in [0, 1], or NaN when unknown) if enough time has passed or force is set.</summary>
    public void Update(double elapsed, double fraction, string status, bool force = false)
    {
        if (!force && elapsed - _lastUpdate < (live ? LiveInterval : PlainInterval)) return;
        _lastUpdate = elapsed;
        if (!live)
        {
            error.WriteLine(status);
            return;
        }
        string bar = double.IsFinite(fraction)
            ? "[" + new string('#', (int)Math.Round(Math.Clamp(fraction, 0, 1) * BarWidth)).PadRight(BarWidth, '.') + $"] {fraction * 100,3:F0}% "
            : "";
        string line = bar + status;
        int width = SafeWindowWidth();
        if (line.Length > width - 1) line = line[..(width - 1)];
        error.Write("\r" + line.PadRight(_drawnLength));
        _drawnLength = line.Length;
        error.Flush();
    }

    /// <summary>A line of its own, above the live line (which the next Update redraws).</summary>
    public void Message(string text)
    {
        if (live && _drawnLength > 0)
        {
            error.Write("\r" + new string(' ', _drawnLength) + "\r");
            _drawnLength = 0;
            _lastUpdate = double.NegativeInfinity;
        }
        error.WriteLine(text);
    }

    /// <summary>Ends the live line so what follows starts on a fresh one.</summary>
    public void Finish()
    {
        if (live && _drawnLength > 0) error.WriteLine();
        _drawnLength = 0;
    }

    private static int SafeWindowWidth()
    {
        try { return Console.WindowWidth > 20 ? Console.WindowWidth : 120; }
        catch (IOException) { return 120; }
    }
}
