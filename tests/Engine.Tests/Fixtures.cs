// Loading the committed PyTorch fixtures (written by tools/make_fixtures.py).
using System.Globalization;
using CharRnn.Engine.IO;

namespace CharRnn.Engine.Tests;

internal sealed class Fixture
{
    public Fixture(string cell)
    {
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        Model = Checkpoint.Load(Path.Combine(dir, $"{cell}_model.safetensors"));
        Reference = SafeTensorsFile.Read(Path.Combine(dir, $"{cell}_reference.safetensors"));
    }

    public LoadedCheckpoint Model { get; }
    public SafeTensorsFile Reference { get; }

    public float[] Tensor(string name) => SafeTensorsFile.ToSingle(Reference.Find(name) ?? throw new KeyNotFoundException(name));
    public int[] Indices(string name) => Tensor(name).Select(v => (int)v).ToArray();
    public int Meta(string key) => int.Parse(Reference.Metadata[key], CultureInfo.InvariantCulture);
    public float MetaFloat(string key) => float.Parse(Reference.Metadata[key], CultureInfo.InvariantCulture);
}
