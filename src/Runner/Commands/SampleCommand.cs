// charrnn sample: generate text from a checkpoint. Standard output receives exactly the prime followed by the
// generated characters, streamed as they are drawn; everything else goes to standard error.
using System.CommandLine;
using CharRnn.Engine.Sampling;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public static class SampleCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "checkpoint (.safetensors) to sample from", Required = true };
        var length = new Option<int>("--length") { Description = "characters to generate", DefaultValueFactory = _ => 500 };
        var temperature = new Option<float>("--temperature") { Description = "1 samples the model's distribution, lower is more conservative, 0 is greedy", DefaultValueFactory = _ => 1f };
        var prime = new Option<string?>("--prime") { Description = "text to start from (printed first)" };
        var seed = new Option<ulong?>("--seed") { Description = "random seed; the same seed and model give the same text (default: random, printed)" };
        var greedy = new Option<bool>("--greedy") { Description = "always take the most likely character (same as --temperature 0)" };
        var command = new Command("sample", "Generate text from a trained checkpoint.") { model, length, temperature, prime, seed, greedy };
        command.SetAction(parse =>
        {
            int count = parse.GetValue(length);
            if (count < 0) throw new UserError($"--length must be zero or more, got {count}", "e.g. --length 500");
            float tau = parse.GetValue(temperature);
            if (!(tau >= 0) || !float.IsFinite(tau)) throw new UserError($"--temperature must be zero or positive, got {tau}", "use 1 for the model's own distribution, 0.5 for safer text, 0 for greedy");
            if (parse.GetValue(greedy)) tau = 0f;
            var loaded = Inputs.Model(parse.GetValue(model)!);
            var vocabulary = loaded.Vocabulary;
            string primeText = parse.GetValue(prime) ?? "";
            string? missing = vocabulary.MissingFrom(primeText);
            if (missing != null) throw new UserError($"--prime has characters the model never saw: {missing}", "remove them from the prime, or train on a corpus that contains them");
            ulong actualSeed = parse.GetValue(seed) ?? (ulong)Environment.TickCount64 ^ (ulong)Environment.ProcessId << 32;
            error.WriteLine($"sampling {count} characters from {loaded.Model.Config.Layers}x{loaded.Model.Config.Hidden} {loaded.Model.Config.ModuleName}, temperature {tau}, seed {actualSeed}");

            var sampler = new Sampler(loaded.Model, actualSeed) { Temperature = tau };
            int[] primeTokens = primeText.Length > 0 ? vocabulary.Encode(primeText) : [StartSymbol(vocabulary)];
            sampler.Prime(primeTokens);
            output.Write(primeText);
            for (int i = 0; i < count; i++) output.Write(vocabulary.TextOf(sampler.Next()));
            output.WriteLine();
            output.Flush();
            return 0;
        });
        return command;
    }

    /// <summary>Without a prime, start as if after a line break (the start of a paragraph), else the first symbol.</summary>
    public static int StartSymbol(CharRnn.Engine.Model.Vocabulary vocabulary) =>
        vocabulary.TryIndexOf(new System.Text.Rune('\n'), out int newline) ? newline : 0;
}
