// Cuts a token stream into training windows the way char-rnn and torch-rnn do: the stream is trimmed to
// n_used = floor((n-1)/(B*T))*B*T characters, stream b is the contiguous slice [b*n_used/B, (b+1)*n_used/B)
// with targets one character ahead, and window k is columns [k*T, (k+1)*T) of every stream. Consecutive
// windows continue each stream, which is what makes carrying the hidden state across them meaningful.
namespace CharRnn.Engine.Training;

public sealed class CorpusBatches : ITrainingWindows
{
    private readonly int[] _tokens;
    private readonly int _streamLength;

    public CorpusBatches(int[] tokens, int batch, int steps)
    {
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), batch, "batch must be at least 1");
        if (steps < 1) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be at least 1");
        long used = (tokens.Length - 1L) / ((long)batch * steps) * batch * steps;
        if (used <= 0) throw new InvalidDataException($"the training text has {tokens.Length} characters; batch {batch} x steps {steps} needs at least {MinimumCharacters(batch, steps)}");
        _tokens = tokens;
        Batch = batch; Steps = steps;
        _streamLength = (int)(used / batch);
        WindowsPerEpoch = _streamLength / steps;
    }

    public static long MinimumCharacters(int batch, int steps) => (long)batch * steps + 1;

    public int Batch { get; }
    public int Steps { get; }
    public int WindowsPerEpoch { get; }

    /// <summary>Fills inputs and targets (T*B, time-major) with window k of the epoch.</summary>
    public void Fill(int window, Span<int> inputs, Span<int> targets) => Fill(window, inputs, targets, 0, Batch);

    /// <summary>Fills inputs and targets (T*streams, time-major) with streams [first, first+streams) of window k.</summary>
    public void Fill(int window, Span<int> inputs, Span<int> targets, int firstStream, int streams)
    {
        if ((uint)window >= (uint)WindowsPerEpoch) throw new ArgumentOutOfRangeException(nameof(window), window, $"window must be in 0..{WindowsPerEpoch - 1}");
        if (firstStream < 0 || streams < 0 || firstStream + streams > Batch) throw new ArgumentOutOfRangeException(nameof(streams), streams, $"streams [{firstStream}, {firstStream + streams}) must lie in [0, {Batch})");
        for (int t = 0; t < Steps; t++)
        {
            for (int b = 0; b < streams; b++)
            {
                int source = (firstStream + b) * _streamLength + window * Steps + t;
                inputs[t * streams + b] = _tokens[source];
                targets[t * streams + b] = _tokens[source + 1];
            }
        }
    }
}
