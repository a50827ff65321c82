// One optimizer step end to end (window fill, forward, loss, backward, clipping, Adam, repacking) on the
// issue's workloads: W1 = 2x512 LSTM, T=100, B=64; W2 = 2x128 LSTM, T=50, B=50. Synthetic text with Alice's
// vocabulary size (V=73) so the suite needs no data file, on 1 and 2 threads. MemoryDiagnoser shows the 0 B
// steady state (of the calling thread; the tests also count the worker's bytes).
using BenchmarkDotNet.Attributes;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;

namespace CharRnn.Perf;

[MemoryDiagnoser]
public class TrainStepBench
{
    private Trainer? _trainer;

    [Params("W1", "W2")]
    public string Workload { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (int hidden, int steps, int batch) = Workload == "W1" ? (512, 100, 64) : (128, 50, 50);
        const int Vocab = 73;
        var random = new Random(1);
        int[] tokens = Enumerable.Range(0, 200_000).Select(_ => random.Next(Vocab)).ToArray();
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, Vocab, hidden, 2));
        model.InitializeUniform(new Rng(1));
        _trainer = new Trainer(model, tokens, new TrainerOptions { Batch = batch, Steps = steps, ClipNorm = 5f, Threads = Threads });
        _trainer.TrainStep();
    }

    [GlobalCleanup]
    public void Cleanup() => _trainer?.Dispose();

    [Benchmark]
    public StepResult Step() => _trainer!.TrainStep();
}
