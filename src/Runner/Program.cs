// charrnn: train, sample and evaluate character-level language models. This file only wires commands and
// turns every failure into `error:` + `hint:` lines on standard error with a non-zero exit code.
using System.CommandLine;
using System.CommandLine.Parsing;
using CharRnn.Runner.Cli;
using CharRnn.Runner.Commands;

namespace CharRnn.Runner;

public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("charrnn: character-level RNN language models (LSTM, GRU, RNN) in pure C#, SIMD on the CPU.")
        {
            TrainCommand.Create(output, error),
            SampleCommand.Create(output, error),
            EvalCommand.Create(output, error),
            GradflowCommand.Create(output, error),
            DemoCommand.Create(output, error),
            PlotCommand.Create(output, error),
            BenchCommand.Create(output, error),
        };
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // An unrecognised token explains more than the "command required" error that comes with it.
            var first = parse.Errors.FirstOrDefault(e => e.Message.Contains("Unrecognized", StringComparison.OrdinalIgnoreCase)) ?? parse.Errors[0];
            error.WriteLine($"error: {UnparsableValue(first) ?? first.Message}");
            string command = parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name + " ";
            error.WriteLine($"hint: run 'charrnn {command}--help' for the options");
            return 2;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false });
        }
        catch (UserError e)
        {
            error.WriteLine($"error: {e.Message}");
            error.WriteLine($"hint: {e.Hint}");
            return e.ExitCode;
        }
        catch (OutOfMemoryException)
        {
            // A model, window, sample or file this machine cannot hold: say so instead of a stack trace.
            error.WriteLine("error: not enough memory for what was asked");
            error.WriteLine("hint: use a smaller model (--hidden, --layers), window (--batch, --seq), sample length or input file");
            return 1;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            error.WriteLine($"error: {OneLine(e)}");
            error.WriteLine("hint: check the paths and values given on the command line");
            return 1;
        }
    }

    /// <summary>
    /// An exception's message as one line: an ArgumentException's own text without the " (Parameter 'x')" and
    /// "Actual value was v." that .NET appends on further lines, the value kept as "(got v)".
    /// </summary>
    private static string OneLine(Exception e) => e switch
    {
        ArgumentOutOfRangeException { ActualValue: object value } range => $"{UserError.TextOf(range)} (got {Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)})",
        ArgumentException argument => UserError.TextOf(argument),
        _ => e.Message.Split('\n')[0].TrimEnd('\r'),
    };

    /// <summary>
    /// "--steps expects a whole number, got 'abc'" for a value of the wrong type, instead of the parser's own
    /// message, which names .NET types (System.Nullable`1[System.Int64]); null for any other parse error.
    /// </summary>
    private static string? UnparsableValue(ParseError parseError)
    {
        OptionResult? option = parseError.SymbolResult switch
        {
            OptionResult o => o,
            ArgumentResult { Parent: OptionResult o } => o,
            _ => null,
        };
        // One token that does not convert: anything else (two values for one, a missing value) keeps its message.
        if (option == null || option.Tokens.Count != 1) return null;
        Type type = Nullable.GetUnderlyingType(option.Option.ValueType) ?? option.Option.ValueType;
        string value = option.Tokens[0].Value;
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        var integer = System.Globalization.NumberStyles.Integer;
        bool wholeNumber = decimal.TryParse(value, integer, invariant, out _);
        string? expected =
            type == typeof(int) ? (int.TryParse(value, integer, invariant, out _) ? null : wholeNumber ? $"a whole number from {int.MinValue} to {int.MaxValue}" : "a whole number") :
            type == typeof(long) ? (long.TryParse(value, integer, invariant, out _) ? null : wholeNumber ? $"a whole number from {long.MinValue} to {long.MaxValue}" : "a whole number") :
            type == typeof(ulong) ? (ulong.TryParse(value, integer, invariant, out _) ? null : wholeNumber ? $"a whole number from 0 to {ulong.MaxValue}" : "a whole number") :
            type == typeof(float) || type == typeof(double) ? (double.TryParse(value, System.Globalization.NumberStyles.Float, invariant, out _) ? null : "a number") :
            null;
        return expected == null ? null : $"{option.Option.Name} expects {expected}, got '{value}'";
    }
}
