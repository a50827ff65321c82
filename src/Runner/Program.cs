// charrnn: train, sample and evaluate character-level language models. This file only wires commands and
// turns every failure into `error:` + `hint:` lines on standard error with a non-zero exit code.
using System.CommandLine;
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
            error.WriteLine($"error: {first.Message}");
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            error.WriteLine($"error: {e.Message}");
            error.WriteLine("hint: check the paths and values given on the command line");
            return 1;
        }
    }
}
