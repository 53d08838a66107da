using FinQLora.IO;
using Xunit.Abstractions;

namespace FinQLora.Tests.Fuzz;

/// <summary>model.safetensors.index.json (IO/ModelWeights.cs): mutated indexes of the sharded fixture open or are refused with a FinQLoraException.</summary>
public class ModelIndexFuzzTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Mutated_shard_indexes_open_or_are_refused_with_a_clear_error()
    {
        foreach (var f in Directory.GetFiles(Fixtures.Parity("model-sharded"), "*.safetensors*")) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)));
        var index = Path.Combine(_dir, "model.safetensors.index.json");
        FuzzCase.Files("model.safetensors.index.json", Mutations.JsonDocument(File.ReadAllText(index)), index, () =>
        {
            using var weights = ModelWeights.Open(_dir);
            foreach (var name in weights.Names) Assert.True(weights.Info(name).ByteLength >= 0);
        }, output.WriteLine);
    }
}
