using FinQLora.IO;

namespace FinQLora.Model;

/// <summary>
/// Checks a checkpoint's tensor list against its config.json before any tensor is loaded, so that what
/// FinQLora computes is what transformers computes on the same folder, or nothing: every tensor must be one
/// the Llama forward uses (a bias, an extra layer or an unknown module would be silently ignored), every
/// expected tensor must be there with the shape config.json implies (libtorch would otherwise fail deep in
/// a matmul, or an embedding of the wrong row count would index past its end), and dense weights must be
/// floating point. <c>score</c>, <c>generate</c>, <c>evaluate</c>, <c>train</c>, <c>merge</c> and
/// <c>quantize</c> all call it, so they agree on which folders they accept.
/// </summary>
public static class CheckpointTensors
{
    private static readonly string[] FloatDTypes = ["F32", "F16", "BF16", "F64"];

    // bitsandbytes' companions of a 4-bit weight (their sizes are checked against the quant state when read)
    private static readonly string[] QuantStateSuffixes = [".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map", ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"];

    public static void Check(LlamaConfig c, ModelWeights weights, string dir)
    {
        bool Has(string n) => weights.Contains(n);
        if (!c.TieWordEmbeddings && !Has("lm_head.weight"))
            throw new FinQLoraException($"{dir}: config.json has tie_word_embeddings: false but the weights hold no lm_head.weight; " +
                                        "set tie_word_embeddings: true if the output layer shares the embedding, or add lm_head.weight");
        var expected = Expected(c);
        foreach (var name in weights.Names)
        {
            if (expected.TryGetValue(name, out var shape)) { CheckDense(weights, name, shape, dir, quantized: IsQuantized(name, Has)); continue; }
            if (QuantStateSuffixes.Any(s => name.EndsWith(s, StringComparison.Ordinal) && expected.ContainsKey(name[..^s.Length]))) continue;
            if (name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)) continue;   // a buffer older checkpoints saved; recomputed from rope_theta, as transformers does
            throw new FinQLoraException($"{dir}: tensor '{name}' {Why(name, c)}");
        }
        foreach (var (name, _) in expected)
            if (!Has(name) && !(name == "lm_head.weight" && c.TieWordEmbeddings))
                throw new FinQLoraException($"{dir}: tensor '{name}' is missing from the weights (num_hidden_layers is {c.NumHiddenLayers})");
    }

    /// <summary>Why a tensor the forward does not use is refused, naming the config key that would explain it.</summary>
    private static string Why(string name, LlamaConfig c)
    {
        if (name.EndsWith(".bias", StringComparison.Ordinal))
            return "is a bias, which this Llama forward does not add (transformers adds it when attention_bias / mlp_bias is true): FinQLora supports Llama checkpoints without biases";
        if (name.StartsWith("model.layers.", StringComparison.Ordinal) && int.TryParse(name.Split('.')[2], out var layer) && layer >= c.NumHiddenLayers)
            return $"belongs to layer {layer}, but config.json's num_hidden_layers is {c.NumHiddenLayers}: the weights and config.json do not belong together";
        return "is not part of the Llama model FinQLora computes (an unknown module would be ignored): is this a Llama checkpoint?";
    }

    private static bool IsQuantized(string weightName, Func<string, bool> has) =>
        has(weightName + ".quant_state.bitsandbytes__nf4") || has(weightName + ".quant_state.bitsandbytes__fp4");

    private static void CheckDense(ModelWeights weights, string name, long[] shape, string dir, bool quantized)
    {
        if (quantized) return;   // packed 4-bit codes: their count is checked against the quant state's shape, and that shape against config.json, when read
        var info = weights.Info(name);
        if (!FloatDTypes.Contains(info.DType))
            throw new FinQLoraException($"{dir}: tensor '{name}' is stored as {info.DType}; weights must be floating point (F32, F16, BF16)");
        if (!info.Shape.SequenceEqual(shape))
            throw new FinQLoraException($"{dir}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}], but config.json implies [{string.Join(", ", shape)}]" +
                                        (name is "model.embed_tokens.weight" or "lm_head.weight" ? $" (vocab_size {shape[0]}, hidden_size {shape[1]})" : ""));
    }

    /// <summary>Every tensor a Llama forward of this config reads, with its shape.</summary>
    public static Dictionary<string, long[]> Expected(LlamaConfig c)
    {
        var d = new Dictionary<string, long[]>(StringComparer.Ordinal)
        {
            ["model.embed_tokens.weight"] = [c.VocabSize, c.HiddenSize],
            ["lm_head.weight"] = [c.VocabSize, c.HiddenSize],
            ["model.norm.weight"] = [c.HiddenSize],
        };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}";
            d[$"{p}.input_layernorm.weight"] = [c.HiddenSize];
            d[$"{p}.post_attention_layernorm.weight"] = [c.HiddenSize];
            foreach (var proj in LlamaProjections.Names)
            {
                var path = $"{p}.{(proj is "q_proj" or "k_proj" or "v_proj" or "o_proj" ? "self_attn" : "mlp")}.{proj}";
                var (o, n) = LlamaProjections.Shape(c, path);
                d[path + ".weight"] = [o, n];
            }
        }
        return d;
    }
}
