using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Text;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class PeftParityTests
{
    private static (ModelBundle Bundle, List<(string, string)> Pairs) Load()
    {
        var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        var pairs = Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();
        return (bundle, pairs);
    }

    [Theory]
    [InlineData("adapter-a")]
    [InlineData("adapter-b")]
    [InlineData("adapter-a+b")]
    public void Adapters_saved_by_peft_give_peft_logprobs(string which)
    {
        var (bundle, pairs) = Load();
        using var _ = bundle;
        PeftAdapterFiles.AttachAll(bundle.Model, which.Split('+').Select(n => Fixtures.Parity(n.StartsWith("adapter") ? n : "adapter-" + n)));
        var expected = Fixtures.Expected["adapters"]![which]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var scores = Scorer.Score(bundle.Model, bundle.Tokenizer, pairs);
        for (int i = 0; i < expected.Length; i++)
            Assert.InRange(scores[i].LogProb - expected[i], -1e-3, 1e-3);
    }

    [Fact]
    public void Saved_adapter_reloads_to_the_same_logprobs()
    {
        var (bundle, pairs) = Load();
        using var _ = bundle;
        var settings = new LoraSettings(4, 8, 0.0, ["all-linear"]);
        var ps = LoraInjector.Inject(bundle.Model, settings, "mine", trainable: true, seed: 3);
        using (no_grad())
            foreach (var (key, p) in ps.Where(p => p.Key.Contains("lora_B"))) p.normal_(0, 0.1);
        var before = Scorer.Score(bundle.Model, bundle.Tokenizer, pairs);
        var dir = Fixtures.TempDir();
        PeftAdapterFiles.Save(dir, bundle.Model, "mine", settings.Validated(3), "tiny");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!;
        Assert.Equal("LORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal(7, config["target_modules"]!.AsArray().Count);

        var (fresh, _) = Load();
        using var __ = fresh;
        PeftAdapterFiles.AttachAll(fresh.Model, [dir]);
        var after = Scorer.Score(fresh.Model, fresh.Tokenizer, pairs);
        for (int i = 0; i < pairs.Count; i++) Assert.Equal(before[i].LogProb, after[i].LogProb, 4);
        Assert.NotEqual(Scorer.Score(Load().Bundle.Model, fresh.Tokenizer, pairs)[0].LogProb, after[0].LogProb, 3);
    }

    [Fact]
    public void Init_is_kaiming_uniform_A_and_zero_B()
    {
        var (bundle, _) = Load();
        using var _b = bundle;
        var ps = LoraInjector.Inject(bundle.Model, new LoraSettings(8, 16, 0.05, ["q_proj", "down_proj"]), "x", true, seed: 1);
        Assert.Equal(3 * 2 * 2, ps.Count);
        var a = ps.First(p => p.Key.EndsWith("q_proj.lora_A.weight")).Param;
        Assert.True(a.abs().max().item<float>() <= 1 / Math.Sqrt(64) + 1e-6);
        Assert.True(a.std().item<float>() > 0.5 / Math.Sqrt(64) / Math.Sqrt(3));
        Assert.Equal(0f, ps.Where(p => p.Key.Contains("lora_B")).Sum(p => p.Param.abs().sum().item<float>()));
        var again = LoraInjector.Inject(Load().Bundle.Model, new LoraSettings(8, 16, 0.05, ["q_proj", "down_proj"]), "x", true, seed: 1);
        Assert.True(again[0].Param.eq(ps[0].Param).all().item<bool>());
    }

    [Fact]
    public void Bad_adapters_and_settings_are_clear_errors()
    {
        var (bundle, _) = Load();
        using var _b = bundle;
        Assert.Contains("lora.r must be > 0", Assert.Throws<FinQLoraException>(() => new LoraSettings(0, 8, 0, ["q_proj"]).Validated(3)).Message);
        Assert.Contains("unknown LoRA target", Assert.Throws<FinQLoraException>(() => new LoraSettings(4, 8, 0, ["qkv"]).Validated(3)).Message);
        Assert.Contains("named 'adapter-a'", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.AttachAll(bundle.Model, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-a")])).Message);

        var dir = Fixtures.TempDir();
        File.Copy(Fixtures.Parity("adapter-a", "adapter_model.safetensors"), Path.Combine(dir, "adapter_model.safetensors"));
        var config = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("adapter-a", "adapter_config.json")))!.AsObject();
        config.Remove("r");
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
        Assert.Contains("'r'", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dir, bundle.Model, "x")).Message);

        // an adapter for another base shape
        var (other, _) = Load();
        using var _o = other;
        config["r"] = 4;
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), config.ToJsonString());
        using var wrong = LlamaBuilder.Random(new LlamaConfig(1011, 32, 64, 3, 4, 2, 8, 1e-5, new RopeConfig("default", 10000), false, 256, 1000, [1001], null),
            new ModelLoadOptions(CPU, ScalarType.Float32));
        Assert.Contains("different base model", Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dir, wrong, "x")).Message);
    }
}
