using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Adapters;
using Xunit.Abstractions;

namespace FinQLora.Tests.Fuzz;

/// <summary>adapter_config.json (Adapters/PeftAdapterFiles.cs): mutated PEFT configs read or are refused with a FinQLoraException.</summary>
public class AdapterConfigFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Seed = File.ReadAllText(Fixtures.Parity("adapter-a", "adapter_config.json"));
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Mutated_adapter_configs_read_or_are_refused_with_a_clear_error()
    {
        FuzzCase.Files("adapter_config.json", Mutations.JsonDocument(Seed), Path.Combine(_dir, PeftAdapterFiles.ConfigFile), () =>
        {
            var s = PeftAdapterFiles.ReadSettings(_dir).Validated(numLayers: 3);
            Assert.True(s.R > 0 && s.Alpha > 0 && s.Dropout is >= 0 and < 1 && s.Targets.Count > 0);
            Assert.True(double.IsFinite(s.Scaling));
        }, output.WriteLine);
    }

    [Fact]
    public void Valid_configs_read_back_with_the_values_written()
    {
        string[] names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];
        Gen.Select(Gen.Int[1, 512], Gen.Int[1, 1024], Gen.Int[0, 99], Gen.Int[0, names.Length - 1].Array[1, 7], Gen.Bool).Sample((r, alpha, dropoutPct, targetIdx, rslora) =>
        {
            var targets = targetIdx.Distinct().Select(i => names[i]).ToList();
            var o = new JsonObject
            {
                ["peft_type"] = "LORA", ["r"] = r, ["lora_alpha"] = alpha, ["lora_dropout"] = dropoutPct / 100.0, ["use_rslora"] = rslora,
                ["target_modules"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray()), ["bias"] = "none",
            };
            File.WriteAllText(Path.Combine(_dir, PeftAdapterFiles.ConfigFile), o.ToJsonString());
            var s = PeftAdapterFiles.ReadSettings(_dir);
            Assert.Equal((r, (double)alpha, dropoutPct / 100.0, rslora), (s.R, s.Alpha, s.Dropout, s.UseRslora));
            Assert.Equal(targets, s.Targets);
            Assert.Equal(rslora ? alpha / Math.Sqrt(r) : (double)alpha / r, s.Scaling, 12);
        }, iter: Math.Min(FuzzCase.Iter, 1000), threads: 1);
    }
}
