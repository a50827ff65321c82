// charrnn demo alphabet: train tiny models on the alphabet in seconds and watch them recite it, forwards from
// 'a' and 'k' and (a model trained on the reversed alphabet) backwards from 'z' and 'p'.
using System.CommandLine;
using System.Globalization;
using CharRnn.Engine.Model;
using CharRnn.Runner.Cli;
using CharRnn.Runner.Demos;

namespace CharRnn.Runner.Commands;

public static class DemoCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var cell = new Option<string>("--cell") { Description = "lstm, gru, rnn, or all", DefaultValueFactory = _ => "all" };
        var seed = new Option<ulong>("--seed") { Description = "seed for initialisation and data order", DefaultValueFactory = _ => 1 };
        var hidden = new Option<int>("--hidden") { Description = "units of the one-layer model", DefaultValueFactory = _ => 32 };
        var steps = new Option<int>("--steps") { Description = "optimizer steps per model", DefaultValueFactory = _ => 300 };
        var alphabet = new Command("alphabet", "Train tiny models on the alphabet and recite it forwards and backwards.") { cell, seed, hidden, steps };
        alphabet.SetAction(parse =>
        {
            string name = parse.GetValue(cell)!;
            CellKind[] cells;
            if (name.Equals("all", StringComparison.OrdinalIgnoreCase)) cells = [CellKind.Lstm, CellKind.Gru, CellKind.Rnn];
            else
            {
                try { cells = [ModelConfig.ParseCell(name)]; }
                catch (ArgumentException) { throw new UserError($"--cell '{name}' is not a known cell", "use lstm, gru, rnn or all"); }
            }
            int h = Inputs.Positive(parse.GetValue(hidden), "--hidden", 32), n = Inputs.Positive(parse.GetValue(steps), "--steps", 300);
            bool allExact = true;
            foreach (var kind in cells)
            {
                var result = AlphabetDemo.Run(kind, parse.GetValue(seed), h, n);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{ModelConfig.CellName(kind)}: 1x{h}, {n} steps per direction in {result.Elapsed.TotalSeconds:F1}s; final training loss {result.ForwardLoss:F4} forwards, {result.BackwardLoss:F4} backwards (nats/char)"));
                foreach (var r in result.Recitations)
                    output.WriteLine($"  {r.Direction,-9} from '{r.From}': {r.Recited}{(r.Exact ? "   exact" : $"   WRONG (expected {r.Expected})")}");
                allExact &= result.AllExact;
            }
            if (allExact) return 0;
            // A demonstration that did not demonstrate: the non-zero exit says so to scripts, these lines to people.
            error.WriteLine("error: not every recitation was exact (the WRONG lines above)");
            error.WriteLine($"hint: train longer, e.g. --steps {2 * n}, or try another --seed");
            return 1;
        });
        return new Command("demo", "Small built-in demonstrations.") { alphabet };
    }
}
