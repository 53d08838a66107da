using FinQLora.IO;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Deterministic random weights for a shape (benchmarks, the quickstart's tiny model): each tensor
/// is drawn from its own generator seeded by the run seed and the tensor's name, so the result does
/// not depend on load order or device count. Norm weights are ones; matrices N(0, std²).
/// </summary>
public sealed class RandomWeights(LlamaConfig config, long seed, double std = 0.02) : IWeightSource
{
    public bool Contains(string name) => Shape(name) is not null;

    public Tensor Load(string name, Device device, ScalarType dtype)
    {
        var shape = Shape(name) ?? throw new FinQLoraException($"random weights: unknown tensor '{name}'");
        if (name.EndsWith("norm.weight", StringComparison.Ordinal)) return ones(shape, dtype, device);
        // The default generators (CPU and CUDA) re-seeded per tensor: TorchSharp cannot make a CUDA Generator object.
        Runtime.Seeding.SeedAll(unchecked(seed * 1_000_003 + StableHash(name)));
        using var scope = NewDisposeScope();
        var w = normal(0, std, shape, ScalarType.Float32, device).to(dtype);
        return w.MoveToOuterDisposeScope();
    }

    public byte[] ReadBytes(string name) => throw new FinQLoraException($"random weights have no raw tensor '{name}'");

    private long[]? Shape(string name)
    {
        var c = config;
        if (name == "model.embed_tokens.weight" || name == "lm_head.weight") return [c.VocabSize, c.HiddenSize];
        if (name == "model.norm.weight") return [c.HiddenSize];
        if (!name.StartsWith("model.layers.", StringComparison.Ordinal)) return null;
        var rest = name["model.layers.".Length..];
        var tail = rest[(rest.IndexOf('.') + 1)..];
        return tail switch
        {
            "input_layernorm.weight" or "post_attention_layernorm.weight" => [c.HiddenSize],
            "self_attn.q_proj.weight" => [c.NumAttentionHeads * c.HeadDim, c.HiddenSize],
            "self_attn.k_proj.weight" or "self_attn.v_proj.weight" => [c.NumKeyValueHeads * c.HeadDim, c.HiddenSize],
            "self_attn.o_proj.weight" => [c.HiddenSize, c.NumAttentionHeads * c.HeadDim],
            "mlp.gate_proj.weight" or "mlp.up_proj.weight" => [c.IntermediateSize, c.HiddenSize],
            "mlp.down_proj.weight" => [c.HiddenSize, c.IntermediateSize],
            _ => null,
        };
    }

    private static long StableHash(string s)
    {
        ulong h = 14695981039346656037UL;   // FNV-1a
        foreach (char ch in s) { h ^= ch; h *= 1099511628211UL; }
        return (long)(h & 0x7FFFFFFFFFFF);
    }
}
