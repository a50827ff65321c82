// What a .NET developer embedding the engine gets for a wrong argument: an exception naming the argument, the
// value and what was expected, thrown before anything is changed, read past or written. Each case here once
// did something else (read before a span, wrapped an array's size, looped forever, half-restored a trainer,
// indexed another symbol's row, wrote a file that Load then refused).
using CharRnn.Engine.IO;
using CharRnn.Engine.Model;
using CharRnn.Engine.Numerics;
using CharRnn.Engine.Sampling;
using CharRnn.Engine.Training;

namespace CharRnn.Engine.Tests;

public sealed class PublicApiValidationTests : IDisposable
{
    private const int V = 7;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "charrnn-api-" + Guid.NewGuid().ToString("N"));

    public PublicApiValidationTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static CharModel<float> NewModel()
    {
        var model = new CharModel<float>(new ModelConfig(CellKind.Lstm, V, 8, 1));
        model.InitializeUniform(new Rng(1));
        return model;
    }

    private static int[] Tokens(int n) => Enumerable.Range(0, n).Select(i => i * 3 % V).ToArray();

    [Fact]
    public void Gemm_NegativeStrides_AreRefused()
    {
        float[] a = new float[12], b = new float[12], c = new float[9];
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(a, -4, 1, b, 3, c, 3, 3, 3, 4, false, Simd.Best));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(a, 4, -1, b, 3, c, 3, 3, 3, 4, false, Simd.Best));
    }

    [Fact]
    public void PackedMatrix_WhoseSizeWouldWrap_IsRefusedBeforeAllocating()
    {
        // 268,435,457 x 16 x 1 panel wrapped to 16 floats in 32 bits; packing would have written a gigabyte past them.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new PackedMatrix(268_435_457, 1, SimdWidth.Vector256));
        Assert.Contains("more than one array holds", error.Message);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(-1, 2)]
    [InlineData(2, 2)]
    public void CharModel_PackPartOutsideItsParts_IsRefused(int part, int parts)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => NewModel().Pack(part, parts)); // (0, 0) looped forever
    }

    [Fact]
    public void Sampler_Settings_RefuseWhatTheyCannotMean()
    {
        using var sampler = new Sampler(NewModel(), 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Temperature = float.NaN);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.TopK = -1);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.TopP = 0f);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.TopP = 1.5f);
        Assert.Throws<ArgumentOutOfRangeException>(() => sampler.TopP = float.NaN);
        sampler.Temperature = -1f; // 0 or less: greedy, as documented
        Assert.Equal(1f, sampler.TopP);
        Assert.Equal(0, sampler.TopK);
    }

    [Fact]
    public void Tokens_OutsideTheVocabulary_AreRefusedWhereverTheyEnter()
    {
        var model = NewModel();
        int[] bad = [1, 2, V, 3];
        using (var sampler = new Sampler(model, 1))
            Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Prime(bad));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Evaluator(model).MeanLoss(bad));
        Assert.Throws<ArgumentOutOfRangeException>(() => GenerationLoss.Mean(model, [1, -1, 2], WeightFormat.Float32, 1));
        int[] corpus = Tokens(200);
        corpus[150] = V + 5;
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new Trainer(model, corpus, new TrainerOptions { Batch = 2, Steps = 4 }));
        Assert.Contains("token 12 at position 150", error.Message);
    }

    [Fact]
    public void Trainer_RestoreOfARefusedState_LeavesTheTrainerAsItWas()
    {
        var model = NewModel();
        using var trainer = new Trainer(model, Tokens(400), new TrainerOptions { Batch = 2, Steps = 4 });
        trainer.TrainStep();
        var good = trainer.Capture();
        // The mask generator's all-zero state is refused, and now before any of the rest was written.
        var zeroMasks = good with { Step = 99, AdamStep = 99, MaskRng = new ulong[good.MaskRng.Length] };
        Assert.Throws<ArgumentException>(() => trainer.Restore(zeroMasks));
        Assert.Equal(good.Step, trainer.Step);
        Assert.Equal(good.AdamStep, trainer.Optimizer.StepCount);
        Assert.Throws<ArgumentException>(() => trainer.Restore(good with { AdamStep = -1 }));
        Assert.Throws<ArgumentException>(() => trainer.Restore(good with { LearningRateScale = float.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.LearningRateScale = 0f);
        Assert.Throws<ArgumentOutOfRangeException>(() => trainer.Optimizer.LearningRate = float.NaN);
    }

    [Fact]
    public void TrainerOptions_ScheduleThatCannotBeFollowed_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { Schedule = LearningRateSchedule.Constant(-1f) }.Validated());
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { Schedule = new LearningRateSchedule(ScheduleKind.Cosine, 1e-3f, 1e-2f, 10) }.Validated());
        new TrainerOptions { Schedule = new LearningRateSchedule(ScheduleKind.Cosine, 1e-3f, 1e-4f, 10) }.Validated();
    }

    [Fact]
    public void Files_ThatLoadWouldRefuse_AreNotWritten()
    {
        string path = Path.Combine(_directory, "x.safetensors");
        var mismatched = new[] { (Name: "a", Shape: new[] { 2, 3 }, Data: (ReadOnlyMemory<float>)new float[5]) };
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.WriteAtomic(path, new Dictionary<string, string>(), mismatched));
        var twice = new[] { ("a", new[] { 1 }, (ReadOnlyMemory<float>)new float[1]), ("a", new[] { 1 }, (ReadOnlyMemory<float>)new float[1]) };
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.WriteAtomic(path, new Dictionary<string, string>(), twice));
        var model = NewModel();
        var vocabulary = Vocabulary.FromText("abcdefg");
        var stray = new[] { ("notes", new[] { 1 }, (ReadOnlyMemory<float>)new float[1]) };
        Assert.Throws<ArgumentException>(() => Checkpoint.Save(path, model, vocabulary, extraTensors: stray));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void ToSingle_OfATensorShorterThanItsShape_Throws()
    {
        var tensor = new SafeTensor("a", "F32", [4], new byte[8]);
        Assert.Throws<InvalidDataException>(() => SafeTensorsFile.ToSingle(tensor));
    }
}
