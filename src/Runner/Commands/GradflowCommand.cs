// charrnn gradflow: the vanishing gradient as a table and a chart. For each model (checkpoints given with
// --model, or freshly initialised lstm, gru and rnn models when none is given) it measures, on windows of real
// text, the mean norm of dL_t/dh(t-k) for k = 0..--distance, prints one column per model and optionally
// writes an SVG chart with a log-scale y axis.
using System.CommandLine;
using System.Globalization;
using System.Text;
using CharRnn.Engine.Diagnostics;
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Runner.Cli;
using CharRnn.Runner.Plots;

namespace CharRnn.Runner.Commands;

public static class GradflowCommand
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static Command Create(TextWriter output, TextWriter error)
    {
        var models = new Option<string[]>("--model") { Description = "checkpoint to probe (repeat for several); none: fresh lstm, gru and rnn models", AllowMultipleArgumentsPerToken = false };
        var corpus = new Option<string?>("--corpus") { Description = "UTF-8 text the windows are cut from (default: the built-in Alice)" };
        var distance = new Option<int>("--distance") { Description = "largest distance k in steps (K)", DefaultValueFactory = _ => 100 };
        var windows = new Option<int>("--windows") { Description = "windows of text averaged over", DefaultValueFactory = _ => 32 };
        var layer = new Option<int?>("--layer") { Description = "which layer's hidden state to probe, 1-based (default: the top layer)" };
        var hidden = new Option<int>("--hidden") { Description = "units per layer of the fresh models", DefaultValueFactory = _ => TrainSettings.Defaults.Hidden };
        var layers = new Option<int>("--layers") { Description = "layers of the fresh models", DefaultValueFactory = _ => TrainSettings.Defaults.Layers };
        var forgetBias = new Option<float?>("--forget-bias") { Description = "initial forget-gate bias of the fresh LSTM (default: one LSTM with 0, PyTorch's, and one with 1)" };
        var seed = new Option<ulong>("--seed") { Description = "seed of the fresh models' initialisation", DefaultValueFactory = _ => 1 };
        var svg = new Option<string?>("--svg") { Description = "also write the chart to this SVG file" };
        var command = new Command("gradflow", "Measure how the gradient of a prediction decays with distance back in time (the vanishing gradient).")
        {
            models, corpus, distance, windows, layer, hidden, layers, forgetBias, seed, svg,
        };
        command.SetAction(parse =>
        {
            int maxDistance = Inputs.Positive(parse.GetValue(distance), "--distance", 100);
            if (maxDistance > 100_000) throw new UserError($"--distance {maxDistance} is more steps than a probe can unroll (at most 100000)", "distances beyond a few hundred steps are where every cell's gradient has long vanished; try --distance 200");
            int windowCount = Inputs.Positive(parse.GetValue(windows), "--windows", 32);
            string? svgPath = parse.GetValue(svg) is string s ? Inputs.OutputPath(s, "--svg") : null;
            var (text, corpusName) = Inputs.Corpus(parse.GetValue(corpus));
            var probes = new List<(string Name, CharModel<float> Model, Vocabulary Vocabulary)>();
            string[] paths = parse.GetValue(models) ?? [];
            if (paths.Length == 0)
            {
                var vocabulary = Vocabulary.FromText(text);
                int h = Inputs.Positive(parse.GetValue(hidden), "--hidden", TrainSettings.Defaults.Hidden), l = Inputs.Positive(parse.GetValue(layers), "--layers", TrainSettings.Defaults.Layers);
                float[] biases = parse.GetValue(forgetBias) is float chosen ? [chosen] : [0f, 1f];
                var fresh = biases.Select(b => (CellKind.Lstm, b, $"lstm fb={b.ToString(Invariant)}"))
                    .Append((CellKind.Gru, 0f, "gru")).Append((CellKind.Rnn, 0f, "rnn"));
                foreach (var (cell, bias, name) in fresh)
                {
                    var model = new CharModel<float>(new ModelConfig(cell, vocabulary.Count, h, l));
                    model.InitializeUniform(new Rng(parse.GetValue(seed)), bias);
                    probes.Add(($"{name} (init)", model, vocabulary));
                }
            }
            foreach (string path in paths)
            {
                LoadedCheckpoint loaded = Inputs.Model(path);
                string? missing = loaded.Vocabulary.MissingFrom(text);
                if (missing != null) throw new UserError($"{path}: the corpus has characters the model never saw: {missing}", "probe with --corpus text from the model's training alphabet");
                string file = Path.GetFileNameWithoutExtension(path), module = loaded.Model.Config.ModuleName;
                probes.Add((file == module ? file : $"{file} ({module})", loaded.Model, loaded.Vocabulary));
            }

            var columns = new List<double[]>();
            int distinctWindows = windowCount, windowLength = 0; // fewer when the corpus is too short to start every window elsewhere
            var encoded = new Dictionary<object, int[]>(ReferenceEqualityComparer.Instance); // the fresh models share one vocabulary: encode once
            foreach (var (name, model, vocabulary) in probes)
            {
                int probeLayer = parse.GetValue(layer) is int chosen
                    ? (chosen >= 1 && chosen <= model.Config.Layers ? chosen - 1 : throw new UserError($"--layer {chosen} does not exist in {name}, which has {model.Config.Layers}", "layers count from 1 (closest to the input)"))
                    : model.Config.Layers - 1;
                if (!encoded.TryGetValue(vocabulary, out int[]? tokens)) encoded[vocabulary] = tokens = vocabulary.Encode(text);
                long gates = (long)model.Config.GatesPerUnit * model.Config.Hidden;
                Inputs.FitsOneArray((long)windowCount * maxDistance * gates, $"--windows {windowCount} x --distance {maxDistance} x {gates} gates of {name}",
                    "values in one activation buffer", "use fewer --windows or a smaller --distance");
                var flow = new GradientFlow<float>(model, windowCount, maxDistance, probeLayer);
                if (tokens.Length < flow.WindowLength)
                    throw new UserError($"{corpusName}: {tokens.Length} characters is too short for --distance {maxDistance} (needs {flow.WindowLength})", "use a longer corpus or a smaller --distance");
                int[] starts = flow.EvenStarts(tokens.Length);
                distinctWindows = Math.Min(distinctWindows, starts.Distinct().Count());
                windowLength = flow.WindowLength;
                columns.Add(flow.Measure(tokens, starts));
            }

            error.WriteLine($"gradflow: mean |dL_t/dh(t-k)| over {windowCount} windows of {corpusName}, layer {(parse.GetValue(layer)?.ToString(Invariant) ?? "top")}");
            if (distinctWindows < windowCount)
                error.WriteLine($"note    the corpus holds only {distinctWindows} distinct windows of {windowLength} characters: the mean counts some twice (use a longer corpus, or fewer --windows)");
            // Columns as wide as their longest name or number, so the header stays over its values.
            var table = new StringBuilder();
            int kWidth = Math.Max(4, maxDistance.ToString(Invariant).Length);
            int[] widths = probes.Select(p => Math.Max(10, p.Name.Length)).ToArray();
            table.Append("k".PadLeft(kWidth));
            for (int i = 0; i < probes.Count; i++) table.Append("  ").Append(probes[i].Name.PadLeft(widths[i]));
            output.WriteLine(table.ToString());
            for (int k = 0; k <= maxDistance; k++)
            {
                table.Clear().Append(k.ToString(Invariant).PadLeft(kWidth));
                for (int i = 0; i < columns.Count; i++) table.Append("  ").Append(columns[i][k].ToString("0.000e+00", Invariant).PadLeft(widths[i]));
                output.WriteLine(table.ToString());
            }
            if (svgPath != null)
            {
                var chart = new LineChart
                {
                    Title = "How far back the gradient reaches: |dL_t/dh(t-k)|",
                    XLabel = "distance k (steps back in time)",
                    YLabel = "mean gradient norm",
                    LogY = true,
                };
                double[] ks = Enumerable.Range(0, maxDistance + 1).Select(k => (double)k).ToArray();
                for (int i = 0; i < probes.Count; i++) chart.Series.Add(new Series(probes[i].Name, ks, columns[i]));
                AtomicFile.WriteAllText(svgPath, chart.ToSvg());
                error.WriteLine($"wrote {svgPath}");
            }
            return 0;
        });
        return command;
    }
}
