using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class LoraMergeTests
{
    private static readonly string[] AB = [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")];

    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    private static double[] Expected(string which) => Fixtures.Expected["adapters"]![which]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();

    private static double[] Score(string dir, string quantize = "none", params string[] adapters)
    {
        using var bundle = ModelBundle.Load(dir, new ModelLoadOptions(CPU, ScalarType.Float32, quantize));
        if (adapters.Length > 0) PeftAdapterFiles.AttachAll(bundle.Model, adapters);
        return Scorer.Score(bundle.Model, bundle.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();
    }

    private static string Out() => Path.Combine(Fixtures.TempDir(), "merged");

    [Fact]
    public void An_fp32_merge_of_two_adapters_gives_PEFTs_logprobs_with_both_active()
    {
        var output = Out();
        var result = LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, output, ScalarType.Float32));
        Assert.Equal(3 * 4 + 3 * 3, result.MergedModules);
        Assert.False(result.BaseWasNf4);
        var scores = Score(output);
        var expected = Expected("adapter-a+b");
        for (int i = 0; i < expected.Length; i++) Assert.InRange(scores[i] - expected[i], -1e-3, 1e-3);
    }

    [Fact]
    public void The_default_bf16_merge_is_a_complete_hugging_face_folder_within_bf16_tolerance()
    {
        var output = Out();
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, output));
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja" })
            Assert.True(File.Exists(Path.Combine(output, f)), f);
        Assert.DoesNotContain(Directory.GetFileSystemEntries(Path.GetDirectoryName(output)!), f => f.Contains(".tmp-"));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
        var original = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "config.json")))!.AsObject();
        Assert.Equal("bfloat16", (config["dtype"] ?? config["torch_dtype"])!.GetValue<string>());
        Assert.Equal(original["hidden_size"]!.GetValue<int>(), config["hidden_size"]!.GetValue<int>());
        using (var weights = ModelWeights.Open(output))
        using (var originalWeights = ModelWeights.Open(Fixtures.TinyModel))
        {
            Assert.Equal(originalWeights.Names.Order(StringComparer.Ordinal), weights.Names.Order(StringComparer.Ordinal));
            Assert.All(weights.Names, n => Assert.Equal("BF16", weights.Info(n).DType));
            // an untouched tensor is the original rounded to bf16
            Assert.True(weights.Load("model.norm.weight").equal(originalWeights.Load("model.norm.weight").to(ScalarType.BFloat16)).all().item<bool>());
        }
        // bf16 rounding of the weights and in the kernels: within 2% of the sum, as for the base model in bf16
        var scores = Score(output);
        var expected = Expected("adapter-a+b");
        for (int i = 0; i < expected.Length; i++) Assert.InRange(scores[i], expected[i] - 0.02 * Math.Abs(expected[i]), expected[i] + 0.02 * Math.Abs(expected[i]));
    }

    [Fact]
    public void Merged_weights_equal_W_plus_scaling_B_A_computed_by_hand()
    {
        var output = Out();
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-b")], output, ScalarType.Float32));
        using var merged = ModelWeights.Open(output);
        using var baseW = ModelWeights.Open(Fixtures.TinyModel);
        using var adapter = SafeTensorsFile.Open(Fixtures.Parity("adapter-b", "adapter_model.safetensors"));
        const string m = "model.layers.1.mlp.up_proj";
        var a = adapter.Load($"base_model.model.{m}.lora_A.weight");   // [2, 64]
        var b = adapter.Load($"base_model.model.{m}.lora_B.weight");   // [160, 2]
        // adapter-b: r 2, alpha 4, rsLoRA: scaling = 4 / sqrt(2)
        var expected = baseW.Load(m + ".weight") + b.matmul(a) * (4 / Math.Sqrt(2));
        Assert.True(allclose(merged.Load(m + ".weight"), expected, 1e-6, 1e-6));
        // attention was not targeted by adapter-b: bit-identical
        Assert.True(merged.Load("model.layers.1.self_attn.q_proj.weight").equal(baseW.Load("model.layers.1.self_attn.q_proj.weight")).all().item<bool>());
    }

    [Fact]
    public void A_large_model_is_sharded_with_an_index_and_loads_the_same()
    {
        var single = Out();
        var sharded = Out();
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, single, ScalarType.Float32));
        var result = LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, sharded, ScalarType.Float32, MaxShardBytes: 300_000));
        // 1,038,... bytes of fp32 weights in shards of at most 300 kB (one tensor, the 258 kB embedding, fits alone)
        Assert.Contains("model.safetensors.index.json", result.WeightFiles);
        var shards = result.WeightFiles.Where(f => f.EndsWith(".safetensors")).ToList();
        Assert.True(shards.Count >= 4, string.Join(", ", shards));
        Assert.Equal(shards.Select((_, i) => $"model-{i + 1:00000}-of-{shards.Count:00000}.safetensors"), shards);
        Assert.All(shards, s => Assert.True(new FileInfo(Path.Combine(sharded, s)).Length <= 300_000 + 4096));
        var index = JsonNode.Parse(File.ReadAllText(Path.Combine(sharded, "model.safetensors.index.json")))!.AsObject();
        using var one = ModelWeights.Open(single);
        long total = one.Names.Sum(n => one.Info(n).ByteLength);
        Assert.Equal(total, index["metadata"]!["total_size"]!.GetValue<long>());
        Assert.Equal(one.Names.Order(StringComparer.Ordinal), index["weight_map"]!.AsObject().Select(kv => kv.Key).Order(StringComparer.Ordinal));
        Assert.Equal(Score(single), Score(sharded));
    }

    /// <summary>The fixture model with its projections stored as bitsandbytes saves a 4-bit model.</summary>
    private static string Nf4Checkpoint()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "nf4-base");
        Directory.CreateDirectory(dir);
        using var scope = NewDisposeScope();
        using var weights = ModelWeights.Open(Fixtures.TinyModel);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var name in weights.Names)
        {
            var module = name[..name.LastIndexOf('.')];
            if (LlamaProjections.Names.Contains(module[(module.LastIndexOf('.') + 1)..]))
                foreach (var kv in BnbNf4Format.ToTensors(module, Nf4.Quantize(weights.Load(name)))) tensors[kv.Key] = kv.Value;
            else tensors[name] = weights.Load(name);
        }
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var config = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "config.json")))!.AsObject();
        config["quantization_config"] = (BnbQuantizationConfig.Default with { bnb_4bit_compute_dtype = ScalarType.Float32 }).ToJson();
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        foreach (var f in new[] { "tokenizer.json", "tokenizer_config.json" }) File.Copy(Fixtures.Parity("model", f), Path.Combine(dir, f));
        return dir;
    }

    [Fact]
    public void An_NF4_base_is_dequantized_before_merging_and_gives_the_NF4_models_logprobs_with_the_adapters()
    {
        var nf4 = Nf4Checkpoint();
        var output = Out();
        var result = LoraMerger.Merge(new MergeOptions(nf4, AB, output, ScalarType.Float32));
        Assert.True(result.BaseWasNf4);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!.AsObject();
        Assert.False(config.ContainsKey("quantization_config"));
        using (var w = ModelWeights.Open(output))
            Assert.DoesNotContain(w.Names, n => n.Contains("absmax") || n.Contains("quant_state"));
        var merged = Score(output);
        var withAdapters = Score(nf4, "none", AB);
        for (int i = 0; i < merged.Length; i++) Assert.InRange(merged[i] - withAdapters[i], -1e-3, 1e-3);
        // and the 4-bit rounding is visible against the dense base with the same adapters
        var expected = Expected("adapter-a+b");
        Assert.Contains(Enumerable.Range(0, expected.Length), i => Math.Abs(merged[i] - expected[i]) > 1e-2);
    }

    [Fact]
    public void Requantize_nf4_writes_a_bitsandbytes_checkpoint_of_the_merged_weights()
    {
        var dense = Out();
        var requantized = Out();
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, dense, ScalarType.Float32));
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, requantized, ScalarType.Float32, RequantizeNf4: true));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(requantized, "config.json")))!.AsObject();
        Assert.Equal("nf4", config["quantization_config"]!["bnb_4bit_quant_type"]!.GetValue<string>());
        using (var w = ModelWeights.Open(requantized))
        {
            Assert.Contains("model.layers.2.mlp.down_proj.weight.quant_state.bitsandbytes__nf4", w.Names);
            Assert.Equal("U8", w.Info("model.layers.2.mlp.down_proj.weight").DType);
            Assert.Equal("F32", w.Info("model.embed_tokens.weight").DType);
        }
        // the same as quantizing the dense merged model while loading it
        Assert.Equal(Score(dense, "nf4"), Score(requantized));
    }

    [Fact]
    public void Bad_merges_are_refused_before_anything_is_written()
    {
        var existing = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(existing, "keep.txt"), "x");
        Assert.Contains("already exists and is not empty", Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, existing))).Message);
        Assert.Contains("base model's folder", Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, AB, Fixtures.TinyModel))).Message);
        Assert.Contains("at least one --adapter", Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [], Out()))).Message);
        Assert.Contains("two adapters are named 'adapter-a'", Assert.Throws<FinQLoraException>(() =>
            LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-a")], Out()))).Message);

        // a base of another shape: hidden 32 instead of 64
        var other = Fixtures.TempDir();
        var config = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "config.json")))!.AsObject();
        config["hidden_size"] = 32;
        File.WriteAllText(Path.Combine(other, "config.json"), config.ToJsonString());
        var output = Out();
        var e = Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(other, AB, output))).Message;
        Assert.Contains(Path.Combine(Fixtures.Parity("adapter-a"), "adapter_model.safetensors"), e);
        Assert.Contains("[4, 64]", e);
        Assert.Contains("needs lora_A [4, 32]", e);
        Assert.Contains("pass the --model it was made for", e);
        Assert.False(Directory.Exists(output));
    }

    [Theory]
    [InlineData("5GB", 5_000_000_000L)]
    [InlineData("500MB", 500_000_000L)]
    [InlineData("2GiB", 2_147_483_648L)]
    [InlineData("1234", 1234L)]
    public void Shard_sizes_parse_like_save_pretrained(string text, long bytes) => Assert.Equal(bytes, ShardedCheckpointWriter.ParseSize(text));

    [Fact]
    public void The_shard_writer_owns_what_it_is_given_even_when_the_callers_scope_ends()
    {
        // quantize --device cuda failed with "Tensor invalid -- empty handle": the CPU copy the writer
        // made was registered in the caller's per-tensor scope and freed before the shard was written
        var dir = Fixtures.TempDir();
        using (var writer = new ShardedCheckpointWriter(dir, 1 << 20))
        {
            for (int i = 0; i < 3; i++)
            {
                using var scope = NewDisposeScope();
                writer.Add($"t{i}", full(4, (float)i));
            }
            writer.Finish();
        }
        using var file = SafeTensorsFile.Open(Path.Combine(dir, ShardedCheckpointWriter.SingleFile));
        Assert.Equal(new float[] { 2, 2, 2, 2 }, file.Load("t2").data<float>().ToArray());
    }
}
