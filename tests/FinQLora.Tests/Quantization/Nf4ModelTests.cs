using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

/// <summary>The tiny fixture model with 4-bit projections: quantized while loading, and saved/loaded in bitsandbytes' layout.</summary>
public class Nf4ModelTests
{
    private static readonly long[] Ids = [1000, 5, 17, 300, 42, 8, 999, 77];

    private static LlamaForCausalLM Build(IWeightSource source, LlamaConfig config)
    {
        var o = new ModelLoadOptions(CPU, ScalarType.Float32, "nf4");
        return LlamaBuilder.Build(config, source, o, LlamaBuilder.Nf4(o));
    }

    private static Tensor LogProbs(LlamaForCausalLM m)
    {
        using var _ = no_grad();
        return m.Logits(tensor(Ids).unsqueeze(0)).log_softmax(-1);   // [1, s, v]
    }

    /// <summary>The checkpoint with every projection replaced by its NF4 round trip (dense).</summary>
    private sealed class RoundTripped(IWeightSource inner) : IWeightSource
    {
        public bool Contains(string name) => inner.Contains(name);
        public byte[] ReadBytes(string name) => inner.ReadBytes(name);
        public Tensor Load(string name, Device device, ScalarType dtype)
        {
            var w = inner.Load(name, device, dtype);
            var module = name[..name.LastIndexOf('.')];
            if (!LlamaProjections.Names.Contains(module[(module.LastIndexOf('.') + 1)..])) return w;
            using var s = Nf4.Quantize(w);
            return Nf4.Dequantize(s, dtype);
        }
    }

    [Fact]
    public void Quantizing_while_loading_equals_the_dense_model_with_round_tripped_weights()
    {
        using var scope = NewDisposeScope();
        var config = LlamaConfig.Load(Fixtures.TinyModel);
        using var weights = ModelWeights.Open(Fixtures.TinyModel);
        var o = new ModelLoadOptions(CPU, ScalarType.Float32);
        using var dense = LlamaBuilder.Build(config, new CheckpointWeights(weights), o);
        using var roundTripped = LlamaBuilder.Build(config, new RoundTripped(new CheckpointWeights(weights)), o);
        using var q = Build(new CheckpointWeights(weights), config);
        var layer = q.Layers.First();
        Assert.IsType<Nf4Linear>(((FinQLora.Adapters.LoraLinear)layer.self_attn.q_proj).base_layer);
        Assert.IsType<Nf4Linear>(((FinQLora.Adapters.LoraLinear)layer.mlp.down_proj).base_layer);
        Assert.Empty(q.Layers.SelectMany(l => l.self_attn.q_proj.parameters()));
        var expected = LogProbs(roundTripped);
        var actual = LogProbs(q);
        Assert.True(allclose(actual, expected, 1e-5, 1e-4));
        // the fixture's weights are N(0, 0.2²) (initializer_range 0.2), so the change is visible but bounded
        double diff = (LogProbs(dense) - actual).abs().mean().item<float>();
        Assert.InRange(diff, 1e-3, 1.0);
    }

    [Fact]
    public void A_checkpoint_written_in_bitsandbytes_layout_loads_back_to_the_same_model()
    {
        using var scope = NewDisposeScope();
        var config = LlamaConfig.Load(Fixtures.TinyModel);
        using var weights = ModelWeights.Open(Fixtures.TinyModel);
        using var q = Build(new CheckpointWeights(weights), config);

        var dir = Fixtures.TempDir();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var name in weights.Names)
        {
            var module = name[..name.LastIndexOf('.')];
            var last = module[(module.LastIndexOf('.') + 1)..];
            if (LlamaProjections.Names.Contains(last)) continue;
            tensors[name] = weights.Load(name);
        }
        int i = 0;
        foreach (var layer in q.Layers)
        {
            foreach (var (kind, proj) in new[] { ("self_attn.q_proj", layer.self_attn.q_proj), ("self_attn.k_proj", layer.self_attn.k_proj),
                ("self_attn.v_proj", layer.self_attn.v_proj), ("self_attn.o_proj", layer.self_attn.o_proj), ("mlp.gate_proj", layer.mlp.gate_proj),
                ("mlp.up_proj", layer.mlp.up_proj), ("mlp.down_proj", layer.mlp.down_proj) })
                foreach (var kv in BnbNf4Format.ToTensors($"model.layers.{i}.{kind}", ((Nf4Linear)((FinQLora.Adapters.LoraLinear)proj).base_layer).State)) tensors[kv.Key] = kv.Value;
            i++;
        }
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        File.Copy(Path.Combine(Fixtures.TinyModel, "config.json"), Path.Combine(dir, "config.json"));

        using var saved = ModelWeights.Open(dir);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4", saved.Names);
        Assert.Equal("U8", saved.Info("model.layers.0.mlp.up_proj.weight").DType);
        using var reloaded = Build(new CheckpointWeights(saved), config);
        Assert.True(LogProbs(reloaded).equal(LogProbs(q)).all().item<bool>());
    }
}
