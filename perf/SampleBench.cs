// Batch-1 generation, one character per call (forward through every layer, softmax, draw, feed back):
// W3 = 2x512 LSTM, W4 = 2x128 LSTM, temperature 1, V=73; on 1 and 2 threads (the step's weights split by
// hidden unit), with float, bf16 or int8 weights.
using BenchmarkDotNet.Attributes;
using CharRnn.Engine.Model;
using CharRnn.Engine.Sampling;

namespace CharRnn.Perf;

[MemoryDiagnoser]
public class SampleBench
{
    private Sampler? _sampler;

    [Params("W3", "W4")]
    public string Workload { get; set; } = "";

    [Params(1, 2)]
    public int Threads { get; set; }

    [Params(WeightFormat.Float32, WeightFormat.BFloat16, WeightFormat.Int8)]
    public WeightFormat Weights { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, 73, Workload == "W3" ? 512 : 128, 2));
        model.InitializeUniform(new Rng(1));
        _sampler = new Sampler(model, seed: 1, count: 1, Threads, Weights);
        _sampler.Prime([0]);
    }

    [GlobalCleanup]
    public void Cleanup() => _sampler?.Dispose();

    // Runs a hundred characters per invocation; with OperationsPerInvoke = 100 BenchmarkDotNet divides by them, so
    // the Mean column (and Allocated) is per sampled character, not per hundred.
    [Benchmark(OperationsPerInvoke = 100)]
    public int HundredCharacters()
    {
        int last = 0;
        for (int i = 0; i < 100; i++) last = _sampler!.Next();
        return last;
    }
}
