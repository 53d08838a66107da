using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

/// <summary>A fact that runs only when an environment variable is set (tools that write fixtures, not checks).</summary>
public sealed class EnvFactAttribute : FactAttribute
{
    public EnvFactAttribute(string variable)
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(variable))) Skip = $"set {variable} to run";
    }
}

/// <summary>
/// Writes tests/fixtures/parity/ours/: adapters saved by FinQLora, a folder merged by FinQLora, and
/// FinQLora's log-probs for them (ours.json), which check_our_adapter.py compares with PEFT and
/// transformers. Run from the repository root:
///   FINQLORA_WRITE_OURS=$PWD/tests/fixtures/parity/ours dotnet test FinQLora.slnx --filter "FullyQualifiedName~OursFixture"
/// </summary>
public class OursFixture
{
    private static readonly (string Name, LoraSettings Settings, long Seed)[] Adapters =
    [
        ("adapter-ours", new LoraSettings(8, 16, 0.05, ["all-linear"]), 21),
        ("adapter-ours-rslora-layers", new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj", "down_proj"], UseRslora: true, Layers: [0, 2]), 22),
    ];

    [EnvFact("FINQLORA_WRITE_OURS")]
    public void Write()
    {
        var root = Environment.GetEnvironmentVariable("FINQLORA_WRITE_OURS")!;
        Directory.CreateDirectory(root);
        var pairs = Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();
        var result = new JsonObject { ["pairs"] = new JsonArray(pairs.Select(p => (JsonNode)new JsonObject { ["prompt"] = p.Item1, ["completion"] = p.Item2 }).ToArray()) };
        foreach (var (name, settings, seed) in Adapters)
        {
            using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
            var ps = LoraInjector.Inject(bundle.Model, settings, "default", trainable: true, seed: seed);
            random.manual_seed(seed);
            using (no_grad())
                foreach (var (key, p) in ps.Where(p => p.Key.Contains("lora_B"))) p.normal_(0, 0.2);   // as if trained: B ≠ 0
            bundle.Model.eval();
            var dir = Path.Combine(root, name);
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
            PeftAdapterFiles.Save(dir, bundle.Model, "default", settings.Validated(bundle.Model.Config.NumHiddenLayers), "../out/model");
            result[name] = new JsonArray(Scorer.Score(bundle.Model, bundle.Tokenizer, pairs).Select(s => (JsonNode)s.LogProb).ToArray());
        }
        var merged = Path.Combine(root, "merged-a+b");
        if (Directory.Exists(merged)) Directory.Delete(merged, recursive: true);
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], merged));   // bf16, the default
        using (var bundle = ModelBundle.Load(merged, new ModelLoadOptions(CPU, ScalarType.Float32)))
            result["merged-a+b"] = new JsonArray(Scorer.Score(bundle.Model, bundle.Tokenizer, pairs).Select(s => (JsonNode)s.LogProb).ToArray());
        File.WriteAllText(Path.Combine(root, "ours.json"), result.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    }
}
