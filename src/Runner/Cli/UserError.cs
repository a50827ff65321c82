// A failure the user can fix: one line saying what is wrong, one line saying what to do. The top level prints
// both and exits non-zero; nothing that reaches the user as a UserError ever shows a stack trace.
namespace CharRnn.Runner.Cli;

public sealed class UserError(string message, string hint, int exitCode = 1) : Exception(message)
{
    public string Hint { get; } = hint;
    public int ExitCode { get; } = exitCode;

    /// <summary>
    /// An engine's ArgumentException as a line for the user: its own text, without the " (Parameter 'x')" and
    /// "Actual value was v." lines .NET appends.
    /// </summary>
    public static string TextOf(ArgumentException e)
    {
        string message = e.Message.Split('\n')[0].TrimEnd('\r');
        string suffix = $" (Parameter '{e.ParamName}')";
        return e.ParamName != null && message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }
}
