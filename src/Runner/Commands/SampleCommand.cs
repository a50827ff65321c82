// charrnn sample: generate text from a checkpoint. Standard output receives exactly the prime followed by the
// generated characters (streamed as they are drawn when there is one sample); with --count N the N samples are
// drawn together as one batch and printed one after another, separated by --separator. Everything else goes
// to standard error.
using System.CommandLine;
using System.Globalization;
using System.Text;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public static class SampleCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "checkpoint (.safetensors) to sample from", Required = true };
        var length = new Option<int>("--length") { Description = "characters to generate per sample (at most, with --stop)", DefaultValueFactory = _ => 500 };
        var temperature = new Option<float>("--temperature") { Description = "1 samples the model's distribution, lower is more conservative, 0 is greedy", DefaultValueFactory = _ => 1f };
        var prime = new Option<string?>("--prime") { Description = "text to start from (printed first)" };
        var primeFile = new Option<string?>("--prime-file") { Description = "UTF-8 file whose text to start from (instead of --prime)" };
        var seed = new Option<ulong?>("--seed") { Description = "random seed; the same seed and model give the same text (default: random, printed)" };
        var greedy = new Option<bool>("--greedy") { Description = "always take the most likely character (same as --temperature 0)" };
        var topK = new Option<int>("--top-k") { Description = "draw only among the K most likely characters (0: all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "draw only among the most likely characters whose probability adds up to P, in (0, 1]", DefaultValueFactory = _ => 1f };
        var stop = new Option<string[]>("--stop") { Description = "end a sample when it produces this text, which is not printed (repeatable; \\n, \\t, \\r, \\\\ are escapes)" };
        var count = new Option<int>("--count") { Description = "independent samples, drawn together as one batch", DefaultValueFactory = _ => 1 };
        var threads = new Option<int?>("--threads") { Description = "threads that share each step's weights (default: all cores; the text does not depend on it)" };
        var weights = new Option<string>("--weights") { Description = "f32 (as trained); bf16: weights rounded to bfloat16, half the bytes per character with --count 1 or 2; int8: 8-bit weights with a scale per unit, a quarter of the bytes, the fastest (see eval --weights for the loss each costs)", DefaultValueFactory = _ => "f32" };
        var separator = new Option<string>("--separator") { Description = "printed between samples when --count > 1 (escapes as --stop)", DefaultValueFactory = _ => "\\n---\\n" };
        var command = new Command("sample", "Generate text from a trained checkpoint.")
        {
            model, length, temperature, prime, primeFile, seed, greedy, topK, topP, stop, count, threads, weights, separator,
        };
        command.SetAction(parse =>
        {
            int maxLength = parse.GetValue(length);
            if (maxLength < 0) throw new UserError($"--length must be zero or more, got {maxLength}", "e.g. --length 500");
            float tau = parse.GetValue(temperature);
            if (!(tau >= 0) || !float.IsFinite(tau)) throw new UserError($"--temperature must be zero or positive, got {tau.ToString(CultureInfo.InvariantCulture)}", "use 1 for the model's own distribution, 0.5 for safer text, 0 for greedy");
            if (parse.GetValue(greedy)) tau = 0f;
            int k = parse.GetValue(topK);
            if (k < 0) throw new UserError($"--top-k must be zero or more, got {k}", "e.g. --top-k 10 (0 keeps every character)");
            float p = parse.GetValue(topP);
            if (!(p > 0 && p <= 1)) throw new UserError($"--top-p must be in (0, 1], got {p.ToString(CultureInfo.InvariantCulture)}", "e.g. --top-p 0.9 (1 keeps every character)");
            int samples = parse.GetValue(count);
            if (samples < 1 || samples > 4096) throw new UserError($"--count must be between 1 and 4096, got {samples}", "e.g. --count 5");
            string[] stops = (parse.GetValue(stop) ?? []).Select(Unescape).ToArray();
            if (stops.Any(s => s.Length == 0)) throw new UserError("--stop needs a non-empty text", "e.g. --stop '\\n\\n' ends a sample at the first blank line");
            if (parse.GetValue(prime) != null && parse.GetValue(primeFile) != null) throw new UserError("--prime and --prime-file were both given", "use one of them");
            var format = Inputs.Weights(parse.GetValue(weights));

            var loaded = Inputs.Model(parse.GetValue(model)!);
            var vocabulary = loaded.Vocabulary;
            string primeText = parse.GetValue(primeFile) is string file ? Inputs.Text(file, "--prime-file") : parse.GetValue(prime) ?? "";
            string? missing = vocabulary.MissingFrom(primeText);
            if (missing != null) throw new UserError($"{(parse.GetValue(primeFile) != null ? "--prime-file" : "--prime")} has characters the model never saw: {missing}", "remove them from the prime, or train on a corpus that contains them");
            ulong actualSeed = parse.GetValue(seed) ?? (ulong)Environment.TickCount64 ^ (ulong)Environment.ProcessId << 32;
            var config = loaded.Model.Config;
            error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"sampling {samples} x {maxLength} characters from {config.Layers}x{config.Hidden} {config.ModuleName}, temperature {tau}{(k > 0 ? $", top-k {k}" : "")}{(p < 1 ? $", top-p {p}" : "")}{(format != WeightFormat.Float32 ? $", {Inputs.Name(format)} weights" : "")}, seed {actualSeed}"));

            using var sampler = new Sampler(loaded.Model, actualSeed, samples, SamplingThreads(parse.GetValue(threads)), format) { Temperature = tau, TopK = k, TopP = p };
            int[] primeTokens = primeText.Length > 0 ? vocabulary.Encode(primeText) : [StartSymbol(vocabulary)];
            sampler.Prime(primeTokens);
            if (samples == 1) Stream(sampler, vocabulary, primeText, maxLength, stops, output);
            else Batch(sampler, vocabulary, primeText, maxLength, stops, Unescape(parse.GetValue(separator)!), output);
            output.Flush();
            return 0;
        });
        return command;
    }

    /// <summary>
    /// --threads for generation: at most one per core, because the threads meet several times per character and
    /// a waiting thread that has to yield its core to a partner costs more than the partner's share saves.
    /// </summary>
    private static int SamplingThreads(int? value) => Math.Min(Inputs.Threads(value), Environment.ProcessorCount);

    /// <summary>One sample, written as it is drawn; only a possible start of a stop text is held back.</summary>
    private static void Stream(Sampler sampler, Vocabulary vocabulary, string primeText, int maxLength, string[] stops, TextWriter output)
    {
        output.Write(primeText);
        int holdBack = stops.Length == 0 ? 0 : stops.Max(s => s.Length) - 1;
        var pending = new StringBuilder();
        for (int i = 0; i < maxLength; i++)
        {
            pending.Append(vocabulary.TextOf(sampler.Next()));
            if (EndsWithStop(pending, stops, out int stopLength))
            {
                pending.Length -= stopLength;
                break;
            }
            if (pending.Length > holdBack)
            {
                output.Write(pending.ToString(0, pending.Length - holdBack));
                pending.Remove(0, pending.Length - holdBack);
            }
        }
        output.Write(pending.ToString());
        output.WriteLine();
    }

    /// <summary>Count samples in lockstep; a stream that stops keeps being fed but its text is final.</summary>
    private static void Batch(Sampler sampler, Vocabulary vocabulary, string primeText, int maxLength, string[] stops, string separator, TextWriter output)
    {
        var texts = Enumerable.Range(0, sampler.Count).Select(_ => new StringBuilder()).ToArray();
        var done = new bool[sampler.Count];
        var symbols = new int[sampler.Count];
        for (int step = 0; step < maxLength && done.Contains(false); step++)
        {
            sampler.Next(symbols);
            for (int i = 0; i < sampler.Count; i++)
            {
                if (done[i]) continue;
                texts[i].Append(vocabulary.TextOf(symbols[i]));
                if (EndsWithStop(texts[i], stops, out int stopLength)) { texts[i].Length -= stopLength; done[i] = true; }
            }
        }
        for (int i = 0; i < texts.Length; i++)
        {
            if (i > 0) output.Write(separator);
            output.Write(primeText);
            output.Write(texts[i].ToString());
        }
        output.WriteLine();
    }

    /// <summary>
    /// Whether text ends with a stop; length is the longest stop it ends with, so that with --stop '\n' and
    /// --stop '\r\n' a "\r\n" is cut whole (a shorter stop that matches here is a suffix of the longer one).
    /// </summary>
    internal static bool EndsWithStop(StringBuilder text, string[] stops, out int length)
    {
        length = 0;
        foreach (string stop in stops)
        {
            if (text.Length < stop.Length || stop.Length <= length) continue;
            bool match = true;
            for (int j = 0; j < stop.Length && match; j++) match = text[text.Length - stop.Length + j] == stop[j];
            if (match) length = stop.Length;
        }
        return length > 0;
    }

    /// <summary>\n, \t, \r and \\ as a shell user types them; any other backslash stays as it is.</summary>
    public static string Unescape(string text)
    {
        var result = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\' || i + 1 == text.Length) { result.Append(text[i]); continue; }
            char next = text[i + 1];
            string? replaced = next switch { 'n' => "\n", 't' => "\t", 'r' => "\r", '\\' => "\\", _ => null };
            if (replaced == null) { result.Append('\\'); continue; }
            result.Append(replaced);
            i++;
        }
        return result.ToString();
    }

    /// <summary>Without a prime, start as if after a line break (the start of a paragraph), else the first symbol.</summary>
    public static int StartSymbol(Vocabulary vocabulary) =>
        vocabulary.TryIndexOf(new System.Text.Rune('\n'), out int newline) ? newline : 0;
}
