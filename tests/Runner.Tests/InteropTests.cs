// Models trained in PyTorch (tools/make_interop_fixtures.py: 2x32 lstm, gru and rnn, plus the LSTM stored as
// F16 and the GRU as BF16) run through `charrnn eval` and `charrnn sample --greedy` and reproduce PyTorch's
// double-precision held-out loss and greedy continuation. The script chose primes whose greedy path never
// has two logits closer than 1e-3, so float rounding here cannot legitimately flip a choice.
using System.Globalization;
using System.Text.Json;

namespace CharRnn.Runner.Tests;

public class InteropTests
{
    /// <summary>A float engine against PyTorch in double: per-character losses agree to ~1e-7 relative, and
    /// the mean over 3,000 characters keeps that; 1e-5 is the acceptance bound of the interop issue.</summary>
    private const double LossRelative = 1e-5;

    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", "interop");

    public static TheoryData<string> Models() => new() { "lstm", "gru", "rnn", "lstm_f16", "gru_bf16" };

    private static JsonElement Reference(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, name + ".json"))).RootElement;

    [Theory, MemberData(nameof(Models))]
    public void Eval_ReproducesPyTorchHeldOutLoss(string name)
    {
        var reference = Reference(name);
        var result = Cli.Run("eval", "--model", Path.Combine(Folder, reference.GetProperty("model").GetString()!), "--text", Path.Combine(Folder, "heldout.txt"), "--json");
        Cli.AssertSucceeded(result);
        double ours = JsonDocument.Parse(result.Out).RootElement.GetProperty("nats_per_char").GetDouble();
        double torch = reference.GetProperty("heldout_nats_per_char").GetDouble();
        double relative = Math.Abs(ours - torch) / torch;
        Assert.True(relative <= LossRelative, string.Create(CultureInfo.InvariantCulture, $"{name}: charrnn {ours:R} vs PyTorch {torch:R} (relative {relative:E2})"));
    }

    [Theory, MemberData(nameof(Models))]
    public void SampleGreedy_ReproducesPyTorchContinuation(string name)
    {
        var reference = Reference(name);
        string prime = reference.GetProperty("prime").GetString()!;
        int length = reference.GetProperty("length").GetInt32();
        var result = Cli.Run("sample", "--model", Path.Combine(Folder, reference.GetProperty("model").GetString()!), "--greedy", "--prime", prime, "--length", length.ToString(CultureInfo.InvariantCulture));
        Cli.AssertSucceeded(result);
        Assert.Equal(prime + reference.GetProperty("greedy").GetString() + Environment.NewLine, result.Out);
    }
}
