// The article's opening exercise: reciting the alphabet. A tiny model trained for a few hundred steps on the
// alphabet, one line after another, recites it greedily from 'a' and continues it from 'k'; a second model
// trained on the reversed alphabet recites backwards from 'z' and from 'p'. Forwards and backwards are
// separate models, as they are separate skills for a person: the sequence, not the set of letters, is learned.
// Each corpus line starts at a different letter and runs to the end of the alphabet, as a person practises
// "what comes after k?": a model that only ever saw lines from 'a' learns to count from the line break and,
// started from zero state at 'p', loses its place (the LSTM did exactly that in the first version of this demo).
using System.Diagnostics;
using System.Text;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;

namespace CharRnn.Runner.Demos;

public sealed record Recitation(string Direction, char From, string Expected, string Recited)
{
    public bool Exact => Recited == Expected;
}

public sealed record AlphabetResult(CellKind Cell, long Steps, double ForwardLoss, double BackwardLoss, TimeSpan Elapsed, IReadOnlyList<Recitation> Recitations)
{
    public bool AllExact => Recitations.All(r => r.Exact);
}

public static class AlphabetDemo
{
    public const string Alphabet = "abcdefghijklmnopqrstuvwxyz";
    public static readonly string Reversed = new(Alphabet.Reverse().ToArray());

    /// <summary>
    /// The built-in corpus: `lines` lines, line i the alphabet (or its reverse) from letter 7i mod 26 to its end;
    /// 7 is coprime to 26, so every 26 lines start at every letter once.
    /// </summary>
    public static string Corpus(bool reversed, int lines = 104)
    {
        string sequence = reversed ? Reversed : Alphabet;
        var text = new StringBuilder();
        for (int i = 0; i < lines; i++) text.Append(sequence, 7 * i % 26, 26 - 7 * i % 26).Append('\n');
        return text.ToString();
    }

    public static AlphabetResult Run(CellKind cell, ulong seed, int hidden = 32, int steps = 300)
    {
        var clock = Stopwatch.StartNew();
        var recitations = new List<Recitation>();
        var (forwardModel, forwardLoss) = Train(cell, Corpus(reversed: false), seed, hidden, steps);
        recitations.Add(Recite(forwardModel, "forwards", 'a', Alphabet));
        recitations.Add(Recite(forwardModel, "forwards", 'k', Alphabet));
        var (backwardModel, backwardLoss) = Train(cell, Corpus(reversed: true), seed, hidden, steps);
        recitations.Add(Recite(backwardModel, "backwards", 'z', Reversed));
        recitations.Add(Recite(backwardModel, "backwards", 'p', Reversed));
        return new AlphabetResult(cell, steps, forwardLoss, backwardLoss, clock.Elapsed, recitations);
    }

    private static (Trained Model, double Loss) Train(CellKind cell, string text, ulong seed, int hidden, int steps)
    {
        var vocabulary = Vocabulary.FromText(text);
        var model = new CharModel<float>(new ModelConfig(cell, vocabulary.Count, hidden, 1));
        model.InitializeUniform(new Rng(seed));
        using var trainer = new Trainer(model, vocabulary.Encode(text), new TrainerOptions { Batch = 8, Steps = 27, LearningRate = 1e-2f, Seed = seed });
        double loss = double.NaN;
        for (int step = 0; step < steps; step++) loss = trainer.TrainStep().Loss;
        return (new Trained(model, vocabulary), loss);
    }

    private sealed record Trained(CharModel<float> Model, Vocabulary Vocabulary);

    /// <summary>Greedy from a zero state primed with `from`, until a line break or a full alphabet's length.</summary>
    private static Recitation Recite(Trained trained, string direction, char from, string sequence)
    {
        var vocabulary = trained.Vocabulary;
        using var sampler = new Sampler(trained.Model, seed: 0) { Temperature = 0f };
        sampler.Prime(vocabulary.Encode(from.ToString()));
        var recited = new StringBuilder().Append(from);
        for (int i = 0; i < sequence.Length; i++)
        {
            string next = vocabulary.TextOf(sampler.Next());
            if (next == "\n") break;
            recited.Append(next);
        }
        return new Recitation(direction, from, sequence[sequence.IndexOf(from)..], recited.ToString());
    }
}
