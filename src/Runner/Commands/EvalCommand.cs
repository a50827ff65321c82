// charrnn eval: mean cross-entropy of a checkpoint on a text, predicting every character from all previous
// ones (one stream from zero state, n-1 predictions), in nats and bits per character.
using System.CommandLine;
using System.Globalization;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;
using CharRnn.Runner.Cli;

namespace CharRnn.Runner.Commands;

public static class EvalCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var model = new Option<string>("--model") { Description = "checkpoint (.safetensors) to evaluate", Required = true };
        var text = new Option<string>("--text") { Description = "UTF-8 text file to evaluate on", Required = true };
        var json = new Option<bool>("--json") { Description = "print exactly one JSON object {chars, nats_per_char, bits_per_char}" };
        var weights = new Option<string>("--weights") { Description = "f32 (as trained), bf16 or int8: the loss of the weight copy `sample --weights` generates from (int8 is measured through the generation step itself, one character at a time)", DefaultValueFactory = _ => "f32" };
        var command = new Command("eval", "Measure a checkpoint's loss on a text file.") { model, text, weights, json };
        command.SetAction(parse =>
        {
            var loaded = Inputs.Model(parse.GetValue(model)!);
            string path = parse.GetValue(text)!;
            string content = Inputs.Text(path, "--text");
            string? missing = loaded.Vocabulary.MissingFrom(content);
            if (missing != null) throw new UserError($"{path}: characters the model never saw: {missing}", "evaluate on text drawn from the same alphabet as the training corpus");
            int[] tokens = loaded.Vocabulary.Encode(content);
            if (tokens.Length < 2) throw new UserError($"{path}: needs at least 2 characters to predict one", "give --text a longer file");
            double nats = Inputs.Weights(parse.GetValue(weights)) switch
            {
                WeightFormat.BFloat16 => new Evaluator(loaded.Model.RoundedToBFloat16()).MeanLoss(tokens),
                WeightFormat.Int8 => GenerationLoss.Mean(loaded.Model, tokens, WeightFormat.Int8, Environment.ProcessorCount),
                _ => new Evaluator(loaded.Model).MeanLoss(tokens),
            };
            double bits = nats / Math.Log(2);
            if (parse.GetValue(json))
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"chars\": {tokens.Length}, \"nats_per_char\": {JsonText.Number(nats)}, \"bits_per_char\": {JsonText.Number(bits)}}}"));
            else
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{tokens.Length} chars: {nats:F4} nats/char, {bits:F4} bits/char"));
            return 0;
        });
        return command;
    }
}
