// Where a Trainer's windows come from: the token stream cut into Batch streams of WindowsPerEpoch windows of
// Steps characters (CorpusBatches holds the tokens in memory; StreamedCorpus reads them from a token file).
// Fill may be called concurrently for disjoint stream ranges (one call per thread's share).
namespace CharRnn.Engine.Training;

public interface ITrainingWindows
{
    int Batch { get; }
    int Steps { get; }
    int WindowsPerEpoch { get; }

    /// <summary>Fills inputs and targets (T*streams, time-major) with streams [first, first+streams) of window k.</summary>
    void Fill(int window, Span<int> inputs, Span<int> targets, int firstStream, int streams);
}
