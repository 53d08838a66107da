using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

/// <summary>A fact that runs only when a fixture file exists (one made on the GPU machine and committed later).</summary>
public sealed class FixtureFactAttribute : FactAttribute
{
    public FixtureFactAttribute(params string[] parts)
    {
        var path = Path.Combine([AppContext.BaseDirectory, "fixtures", "parity", .. parts]);
        if (!File.Exists(path)) Skip = $"no {string.Join('/', parts)}: run tests/fixtures/parity/check_our_adapter.py --nf4 on a CUDA machine and commit it";
    }
}

/// <summary>
/// PEFT on a bitsandbytes NF4 base (fp32 compute) against FinQLora's --quantize nf4 with the same
/// PEFT-saved adapters (ours/nf4_expected.json, written by check_our_adapter.py --nf4).
/// </summary>
public class Nf4PeftParityTests
{
    private static JsonObject Expected => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "parity", "ours", "nf4_expected.json")))!.AsObject();

    [FixtureFact("ours", "nf4_expected.json")]
    public void Adapters_on_an_NF4_base_give_PEFTs_logprobs_on_bitsandbytes()
    {
        var expected = Expected;
        var pairs = Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();
        foreach (var which in new[] { "base", "adapter-a", "adapter-b", "adapter-a+b" })
        {
            using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "nf4"));
            if (which != "base") PeftAdapterFiles.AttachAll(bundle.Model, which.Split('+').Select(n => Fixtures.Parity(n.StartsWith("adapter") ? n : "adapter-" + n)));
            var scores = Scorer.Score(bundle.Model, bundle.Tokenizer, pairs);
            var values = expected[which]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
            for (int i = 0; i < values.Length; i++)
                Assert.True(Math.Abs(scores[i].LogProb - values[i]) <= 1e-3, $"{which}, pair {i}: ours {scores[i].LogProb}, PEFT+bitsandbytes {values[i]}");
        }
    }
}
