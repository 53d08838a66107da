using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Model;

/// <summary>A loaded model written as a Hugging Face folder (what full fine-tuning saves) loads back to the same model.</summary>
public class HfModelFolderTests
{
    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    [Theory]
    [InlineData("model")]
    [InlineData("model-tied")]
    public void A_changed_model_written_in_shards_loads_back_with_the_same_logprobs_and_names(string fixture)
    {
        var output = Path.Combine(Fixtures.TempDir(), "model");
        using var bundle = ModelBundle.Load(Fixtures.Parity(fixture), new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        using (no_grad())
            foreach (var (_, p) in bundle.Model.named_parameters()) p.add_(0.01 * randn_like(p));   // not the checkpoint any more
        var before = Scorer.Score(bundle.Model, bundle.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();

        var files = HfModelFolder.Write(bundle.Model, Fixtures.Parity(fixture), output, ScalarType.Float32, maxShardBytes: 100_000);

        Assert.Contains(ShardedCheckpointWriter.IndexFile, files);
        Assert.True(files.Count > 2, string.Join(", ", files));
        foreach (var f in new[] { "config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja" })
            Assert.True(File.Exists(Path.Combine(output, f)), f);
        using (var written = ModelWeights.Open(output))
        using (var original = ModelWeights.Open(Fixtures.Parity(fixture)))
            Assert.Equal(original.Names.Order(StringComparer.Ordinal), written.Names.Order(StringComparer.Ordinal));
        using var reloaded = ModelBundle.Load(output, new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        var after = Scorer.Score(reloaded.Model, reloaded.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();
        Assert.Equal(before, after);
    }

    [Fact]
    public void The_folder_is_written_in_the_requested_dtype_and_says_so_in_config_json()
    {
        var output = Path.Combine(Fixtures.TempDir(), "model");
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        HfModelFolder.Write(bundle.Model, Fixtures.TinyModel, output, ScalarType.BFloat16);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
        Assert.Equal("bfloat16", (config["dtype"] ?? config["torch_dtype"])!.GetValue<string>());
        using var weights = ModelWeights.Open(output);
        Assert.All(weights.Names, n => Assert.Equal("BF16", weights.Info(n).DType));
        Assert.Equal(ScalarType.Float32, HfModelFolder.StoredDType(Fixtures.TinyModel));
        Assert.Equal(ScalarType.BFloat16, HfModelFolder.StoredDType(output));
    }

    [Fact]
    public void A_model_that_still_carries_an_adapter_is_refused()
    {
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        PeftAdapterFiles.AttachAll(bundle.Model, [Fixtures.Parity("adapter-a")]);
        var e = Assert.Throws<FinQLoraException>(() => HfModelFolder.Write(bundle.Model, Fixtures.TinyModel, Path.Combine(Fixtures.TempDir(), "m"), ScalarType.Float32));
        Assert.Contains("init_adapter_mode: merge", e.Message);
    }
}
