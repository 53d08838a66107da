using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class PeftAdapterFilesTests
{
    private static ModelBundle LoadTiny() => ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));

    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    private static double[] Expected(string which) => Fixtures.Expected["adapters"]![which]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();

    /// <summary>A copy of a fixture adapter folder, with its config and weights optionally rewritten.</summary>
    private static string CopyAdapter(string name, Action<JsonObject>? editConfig = null, Func<string, string>? renameKey = null, Action<Dictionary<string, Tensor>>? editTensors = null)
    {
        var dir = Path.Combine(Fixtures.TempDir(), name);
        Directory.CreateDirectory(dir);
        var config = JsonNode.Parse(File.ReadAllText(Fixtures.Parity(name, "adapter_config.json")))!.AsObject();
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
        using var file = SafeTensorsFile.Open(Fixtures.Parity(name, "adapter_model.safetensors"));
        var tensors = file.Names.ToDictionary(n => renameKey?.Invoke(n) ?? n, n => file.Load(n));
        editTensors?.Invoke(tensors);
        SafeTensorsWriter.Write(Path.Combine(dir, "adapter_model.safetensors"), tensors);
        return dir;
    }

    [Fact]
    public void Saved_files_use_PEFTs_keys_and_config_fields()
    {
        using var bundle = LoadTiny();
        var settings = new LoraSettings(8, 16, 0.05, ["q_proj", "v_proj"], UseRslora: true, Layers: [0, 2]).Validated(3);
        var ps = LoraInjector.Inject(bundle.Model, settings, "default", trainable: true, seed: 1);
        var dir = Fixtures.TempDir();
        PeftAdapterFiles.Save(dir, bundle.Model, "default", settings, "meta-llama/Llama-3.1-8B");

        using var file = SafeTensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
        var expectedKeys = new[] { 0, 2 }.SelectMany(i => new[] { "q_proj", "v_proj" }.SelectMany(p => new[]
            { $"base_model.model.model.layers.{i}.self_attn.{p}.lora_A.weight", $"base_model.model.model.layers.{i}.self_attn.{p}.lora_B.weight" }));
        Assert.Equal(expectedKeys.Order(StringComparer.Ordinal), file.Names.Order(StringComparer.Ordinal));
        Assert.Equal([8L, 64L], file.Info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").Shape);
        Assert.Equal([32L, 8L], file.Info("base_model.model.model.layers.2.self_attn.v_proj.lora_B.weight").Shape);   // 2 kv heads × 16
        Assert.Equal("F32", file.Info("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight").DType);

        var c = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!.AsObject();
        var peft = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("adapter-a", "adapter_config.json")))!.AsObject();
        // every field a PEFT config needs for a plain LoRA adapter, as PEFT 0.21 writes them
        foreach (var key in new[] { "peft_type", "task_type", "r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "bias", "fan_in_fan_out",
                     "inference_mode", "init_lora_weights", "layers_to_transform", "layers_pattern", "modules_to_save", "revision", "use_dora",
                     "rank_pattern", "alpha_pattern", "base_model_name_or_path" })
        {
            Assert.True(c.ContainsKey(key), $"missing {key}");
            Assert.True(peft.ContainsKey(key), $"PEFT has no {key}");
        }
        Assert.Equal("LORA", c["peft_type"]!.GetValue<string>());
        Assert.Equal("CAUSAL_LM", c["task_type"]!.GetValue<string>());
        Assert.Equal(8, c["r"]!.GetValue<int>());
        Assert.Equal(16, c["lora_alpha"]!.GetValue<double>());
        Assert.Equal(0.05, c["lora_dropout"]!.GetValue<double>());
        Assert.True(c["use_rslora"]!.GetValue<bool>());
        Assert.Equal("none", c["bias"]!.GetValue<string>());
        Assert.Equal([0, 2], c["layers_to_transform"]!.AsArray().Select(x => x!.GetValue<int>()));
        Assert.Equal(["q_proj", "v_proj"], c["target_modules"]!.AsArray().Select(x => x!.GetValue<string>()));
        Assert.Equal("meta-llama/Llama-3.1-8B", c["base_model_name_or_path"]!.GetValue<string>());
        Assert.Null(c["modules_to_save"]);

        var back = PeftAdapterFiles.ReadSettings(dir);
        Assert.Equal((8, 16.0, 0.05, true), (back.R, back.Alpha, back.Dropout, back.UseRslora));
        Assert.Equal(["q_proj", "v_proj"], back.Targets);
        Assert.Equal([0, 2], back.Layers!);
    }

    [Fact]
    public void Keys_with_PEFTs_default_adapter_level_load_the_same()
    {
        var dir = CopyAdapter("adapter-a", renameKey: k => k.Replace(".lora_A.weight", ".lora_A.default.weight").Replace(".lora_B.weight", ".lora_B.default.weight"));
        using var bundle = LoadTiny();
        PeftAdapterFiles.AttachAll(bundle.Model, [dir]);
        var scores = Scorer.Score(bundle.Model, bundle.Tokenizer, Pairs());
        var expected = Expected("adapter-a");
        for (int i = 0; i < expected.Length; i++) Assert.InRange(scores[i].LogProb - expected[i], -1e-3, 1e-3);
    }

    [Fact]
    public void Stage_two_stacks_a_new_trainable_adapter_on_a_frozen_one()
    {
        using var bundle = LoadTiny();
        PeftAdapterFiles.Load(Fixtures.Parity("adapter-a"), bundle.Model, "stage1", trainable: false);
        var trainable = LoraInjector.Inject(bundle.Model, new LoraSettings(8, 16, 0, ["all-linear"]), "stage2", trainable: true, seed: 4);
        // the fresh adapter's B is zero: the model still gives adapter-a's log-probs
        var scores = Scorer.Score(bundle.Model, bundle.Tokenizer, Pairs());
        var expected = Expected("adapter-a");
        for (int i = 0; i < expected.Length; i++) Assert.InRange(scores[i].LogProb - expected[i], -1e-3, 1e-3);
        Assert.Equal(3 * 7 * 2, trainable.Count);
        Assert.All(trainable, p => Assert.True(p.Param.requires_grad));
        Assert.Equal(trainable.Select(p => p.Param.Handle), LoraInjector.TrainableParameters(bundle.Model).Select(p => p.Handle));
        var stage1 = LoraInjector.Projections(bundle.Model).SelectMany(p => p.Layer.Adapters).Where(a => a.Name == "stage1").ToList();
        Assert.Equal(3 * 4, stage1.Count);
        Assert.All(stage1, a => Assert.False(a.Trainable));
        Assert.Equal(ScalarType.Float32, trainable[0].Param.dtype);
    }

    [Fact]
    public void Bf16_trainable_weights_are_an_option()
    {
        using var bundle = LoadTiny();
        var ps = LoraInjector.Inject(bundle.Model, new LoraSettings(4, 8, 0, ["q_proj"], TrainableDType: "bfloat16"), "x", trainable: true, seed: 0);
        Assert.All(ps, p => Assert.Equal(ScalarType.BFloat16, p.Param.dtype));
        Assert.Contains("float32 or bfloat16", Assert.Throws<FinQLoraException>(() => new LoraSettings(4, 8, 0, ["q_proj"], TrainableDType: "fp8").Validated(3)).Message);
    }

    [Fact]
    public void Missing_files_and_fields_are_errors_that_name_the_file()
    {
        using var bundle = LoadTiny();
        var empty = Fixtures.TempDir();
        Assert.Contains("no adapter_config.json", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(empty, bundle.Model, "x")).Message);

        var noWeights = CopyAdapter("adapter-a");
        File.Delete(Path.Combine(noWeights, "adapter_model.safetensors"));
        Assert.Contains("no adapter_model.safetensors", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(noWeights, bundle.Model, "x")).Message);

        foreach (var field in new[] { "peft_type", "lora_alpha", "target_modules" })
        {
            var dir = CopyAdapter("adapter-a", c => c.Remove(field));
            var e = Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dir, bundle.Model, "x"));
            Assert.Contains($"'{field}'", e.Message);
            Assert.Contains("adapter_config.json", e.Message);
        }
        var notLora = CopyAdapter("adapter-a", c => c["peft_type"] = "IA3");
        Assert.Contains("only LORA", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(notLora, bundle.Model, "x")).Message);
        var zeroRank = CopyAdapter("adapter-a", c => c["r"] = 0);
        Assert.Contains("lora.r must be > 0, got 0", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(zeroRank, bundle.Model, "x")).Message);
    }

    [Fact]
    public void Unsupported_adapter_contents_are_refused_rather_than_silently_dropped()
    {
        using var bundle = LoadTiny();
        var withSaved = CopyAdapter("adapter-a", c => c["modules_to_save"] = new JsonArray("lm_head"));
        Assert.Contains("modules_to_save", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(withSaved, bundle.Model, "x")).Message);
        var withBias = CopyAdapter("adapter-a", c => c["bias"] = "lora_only");
        Assert.Contains("bias 'lora_only'", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(withBias, bundle.Model, "x")).Message);
        var extra = CopyAdapter("adapter-a", editTensors: t => t["base_model.model.lm_head.weight"] = zeros(4, 4));
        Assert.Contains("'base_model.model.lm_head.weight' is not a lora_A/lora_B weight", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(extra, bundle.Model, "x")).Message);
        var orphanB = CopyAdapter("adapter-a", editTensors: t => t.Remove("base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight"));
        Assert.Contains("has no matching lora_A", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(orphanB, bundle.Model, "x")).Message);
        var dora = CopyAdapter("adapter-a", c => c["use_dora"] = true);
        Assert.Contains("DoRA", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dora, bundle.Model, "x")).Message);
    }

    [Fact]
    public void A_shape_mismatch_names_the_file_the_key_both_shapes_and_the_fix()
    {
        using var bundle = LoadTiny();
        // r 4 in the file, but the config says 8
        var dir = CopyAdapter("adapter-a", c => c["r"] = 8);
        var e = Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dir, bundle.Model, "x")).Message;
        Assert.Contains(Path.Combine(dir, "adapter_model.safetensors"), e);
        Assert.Contains("lora_A.weight' [4, 64]", e);
        Assert.Contains("lora_A must be [8, 64]", e);
        Assert.Contains("pass the --model it was trained on", e);
    }
}
