using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Model;

/// <summary>
/// A checkpoint whose config.json or tensors ask for maths FinQLora does not compute (another activation, bias
/// terms, more layers than the config names, an untied head without its tensor, shapes or dtypes the config
/// does not imply) is refused with the key or tensor named — by the loader that score/generate/evaluate/train
/// use and by merge/quantize alike — instead of running and computing something else.
/// </summary>
public sealed class SilentMathsTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();
    private int _n;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A copy of the fixture model with its config and tensors changed by <paramref name="config"/> and <paramref name="tensors"/>.</summary>
    private string Variant(Action<JsonObject> config, Action<Dictionary<string, Tensor>> tensors)
    {
        var dir = Path.Combine(_dir, $"m{Interlocked.Increment(ref _n)}");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var c = JsonFile.ReadObject(Path.Combine(dir, "config.json"));
        config(c);
        File.WriteAllText(Path.Combine(dir, "config.json"), c.ToJsonString());
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> all;
        using (var w = ModelWeights.Open(Fixtures.TinyModel)) all = w.Names.ToDictionary(n => n, n => w.Load(n));
        tensors(all);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), all, new Dictionary<string, string> { ["format"] = "pt" });
        return dir;
    }

    private void RefusedEverywhere(string dir, string named)
    {
        var load = Assert.Throws<FinQLoraException>(() => LlamaBuilder.Load(dir, new ModelLoadOptions(CPU, ScalarType.Float32)).Dispose());
        Assert.Contains(named, load.Message);
        var quantize = Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(dir, [], Path.Combine(_dir, $"q{_n}"), ScalarType.Float32, RequantizeNf4: true)));
        Assert.Contains(named, quantize.Message);
        var merge = Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(dir, [Fixtures.Parity("adapter-a")], Path.Combine(_dir, $"g{_n}"), ScalarType.Float32)));
        Assert.Contains(named, merge.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, $"q{_n}")));
    }

    [Fact]
    public void Config_keys_that_change_the_maths_are_refused_naming_key_and_value()
    {
        (string Key, JsonNode? Value)[] bad =
        [
            ("hidden_act", "gelu"), ("hidden_act", "gelu_pytorch_tanh"), ("hidden_act", "relu"), ("hidden_act", 3),
            ("attention_bias", true), ("mlp_bias", true), ("attention_bias", "false"),
            ("rope_scaling", "llama3"), ("rope_scaling", 8), ("rope_scaling", new JsonArray(1, 2)), ("rope_parameters", "default"),
        ];
        Gen.Int[0, bad.Length - 1].Sample(i =>
        {
            var (key, value) = bad[i];
            var dir = Variant(c => c[key] = value?.DeepClone(), _ => { });
            RefusedEverywhere(dir, key);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public void Tensors_the_forward_would_ignore_or_misread_are_refused_naming_the_tensor()
    {
        string[] projections = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"];
        Gen.Select(Gen.Int[0, 5], Gen.Int[0, 2], Gen.Int[0, projections.Length - 1], Gen.Int[1, 40]).Sample((kind, layer, proj, k) =>
        {
            var p = $"model.layers.{layer}.{projections[proj]}";
            var (dir, named) = kind switch
            {
                // a bias tensor (attention_bias / mlp_bias checkpoints)
                0 => (Variant(_ => { }, t => t[p + ".bias"] = zeros(t[p + ".weight"].shape[0])), p + ".bias"),
                // tensors of a layer beyond num_hidden_layers
                1 => (Variant(_ => { }, t => t[$"model.layers.{2 + k}.input_layernorm.weight"] = ones(64)), $"model.layers.{2 + k}.input_layernorm.weight"),
                // an untied head without its tensor
                2 => (Variant(_ => { }, t => t.Remove("lm_head.weight")), "tie_word_embeddings"),
                // vocab_size not the embedding's rows
                3 => (Variant(c => c["vocab_size"] = 1011 + k, _ => { }), "vocab_size"),
                // an integer projection
                4 => (Variant(_ => { }, t => t[p + ".weight"] = t[p + ".weight"].to(ScalarType.Int32)), p + ".weight"),
                // a projection of the wrong shape
                _ => (Variant(_ => { }, t => t[p + ".weight"] = t[p + ".weight"][TensorIndex.Slice(0, -1)].contiguous()), p + ".weight"),
            };
            RefusedEverywhere(dir, named);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public void A_4bit_checkpoint_whose_quant_state_shape_disagrees_with_config_json_is_refused()
    {
        var nf4 = Path.Combine(_dir, "nf4");
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [], nf4, ScalarType.Float32, RequantizeNf4: true));
        var c = JsonFile.ReadObject(Path.Combine(nf4, "config.json"));
        c["intermediate_size"] = 96;   // the MLP projections' stored shapes say 160
        File.WriteAllText(Path.Combine(nf4, "config.json"), c.ToJsonString());
        var e = Assert.Throws<FinQLoraException>(() => LlamaBuilder.Load(nf4, new ModelLoadOptions(CPU, ScalarType.Float32)).Dispose());
        Assert.Contains("mlp", e.Message);
        Assert.Contains("expected", e.Message);
    }
}
