// charrnn plot: draw a training run's metrics log (the JSONL `train` writes, one object per optimizer step) as
// an SVG of train and held-out loss against step and against wall time.
using System.CommandLine;
using System.Text.Json;
using CharRnn.Engine.IO;
using CharRnn.Runner.Cli;
using CharRnn.Runner.Plots;

namespace CharRnn.Runner.Commands;

public static class PlotCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var log = new Option<string>("--log") { Description = "metrics log written by train (<checkpoint>.metrics.jsonl)", Required = true };
        var svg = new Option<string>("--svg") { Description = "SVG file to write", Required = true };
        var command = new Command("plot", "Draw train and held-out loss from a metrics log as an SVG chart.") { log, svg };
        command.SetAction(parse =>
        {
            string logPath = parse.GetValue(log)!;
            string svgPath = Inputs.OutputPath(parse.GetValue(svg)!, "--svg");
            var records = Read(logPath);
            AtomicFile.WriteAllText(svgPath, LossPlot.Svg(records, Path.GetFileName(logPath)));
            int validations = records.Count(r => r.ValidationLoss != null);
            output.WriteLine($"wrote {svgPath}: {records.Count} steps, {validations} validations");
            return 0;
        });
        return command;
    }

    public static List<StepRecord> Read(string path)
    {
        if (Directory.Exists(path)) throw new UserError($"{path}: is a directory", "give --log the .metrics.jsonl file train wrote");
        if (!File.Exists(path)) throw new UserError($"{path}: no such file", "train writes <checkpoint>.metrics.jsonl beside its checkpoint");
        var records = new List<StepRecord>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            try
            {
                using var json = JsonDocument.Parse(line);
                var root = json.RootElement;
                records.Add(new StepRecord(
                    root.GetProperty("step").GetInt64(),
                    root.GetProperty("time_s").GetDouble(),
                    Number(root.GetProperty("loss")),
                    root.TryGetProperty("val_loss", out var v) ? Number(v) : null));
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
            {
                throw new UserError($"{path}: line {lineNumber} is not a metrics record ({e.Message})", "give --log a .metrics.jsonl file written by charrnn train");
            }
        }
        if (records.Count == 0) throw new UserError($"{path}: holds no metrics records", "train writes one line per optimizer step; let it run at least one step");
        return records;
    }

    /// <summary>A logged number; null marks a non-finite value (a skipped step).</summary>
    private static double Number(JsonElement value) => value.ValueKind == JsonValueKind.Null ? double.NaN : value.GetDouble();
}
