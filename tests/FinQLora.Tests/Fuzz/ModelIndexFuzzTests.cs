using System.Diagnostics;
using CsCheck;
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
        var seed = File.ReadAllText(index);
        var fuzz = new FuzzCase("model.safetensors.index.json");
        var sw = Stopwatch.StartNew();
        Mutations.JsonDocument(seed).Sample(bytes =>
        {
            File.WriteAllBytes(index, bytes);
            fuzz.Run(bytes, () =>
            {
                using var weights = ModelWeights.Open(_dir);
                foreach (var name in weights.Names) Assert.True(weights.Info(name).ByteLength >= 0);
            });
        }, iter: FuzzCase.Iter, threads: 1);
        output.WriteLine(fuzz.Summary(sw.Elapsed));
    }
}
