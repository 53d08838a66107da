using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Model;

/// <summary>RoPE settings; <see cref="RopeType"/> is "default" or "llama3".</summary>
public sealed record RopeConfig(string RopeType, double Theta, double Factor = 1, double LowFreqFactor = 1,
    double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192);

/// <summary>
/// A Llama config.json, in either shape found in the wild: the classic one (top-level rope_theta,
/// rope_scaling, torch_dtype) or the newer transformers one (rope_parameters, dtype).
/// </summary>
public sealed record LlamaConfig(
    int VocabSize, int HiddenSize, int IntermediateSize, int NumHiddenLayers, int NumAttentionHeads,
    int NumKeyValueHeads, int HeadDim, double RmsNormEps, RopeConfig Rope, bool TieWordEmbeddings,
    int MaxPositionEmbeddings, int? BosTokenId, IReadOnlyList<int> EosTokenIds, string? TorchDtype,
    JsonObject? QuantizationConfig = null)
{
    /// <summary>The Llama-3.1-8B shape (for benchmarks and parameter counts with random weights).</summary>
    public static LlamaConfig Llama31_8B => new(128256, 4096, 14336, 32, 32, 8, 128, 1e-5,
        new RopeConfig("llama3", 500000, 8, 1, 4, 8192), false, 131072, 128000, [128001, 128008, 128009], "bfloat16");

    public static LlamaConfig Load(string path)
    {
        if (Directory.Exists(path)) path = Path.Combine(path, "config.json");
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: config.json not found");
        JsonNode? node;
        try { node = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new FinQLoraException($"{path}: invalid JSON ({e.Message})"); }
        if (node is not JsonObject o) throw new FinQLoraException($"{path}: config.json is not a JSON object");
        return Parse(o, path);
    }

    public static LlamaConfig Parse(JsonObject o, string path)
    {
        var modelType = Str(o, "model_type", path);
        if (modelType is not null && modelType != "llama")
            throw new FinQLoraException($"{path}: model_type '{modelType}' is not supported (FinQLora runs Llama models)");
        int hidden = Int(o, "hidden_size", path)!.Value;
        int heads = Int(o, "num_attention_heads", path)!.Value;
        int kvHeads = Int(o, "num_key_value_heads", path, required: false) ?? heads;
        int headDim = Int(o, "head_dim", path, required: false) ?? hidden / heads;
        if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new FinQLoraException($"{path}: num_attention_heads ({heads}) must be a positive multiple of num_key_value_heads ({kvHeads})");

        var ropeNode = o["rope_parameters"] as JsonObject ?? o["rope_scaling"] as JsonObject;
        double theta = Dbl(o, "rope_theta", path) ?? (ropeNode is null ? null : Dbl(ropeNode, "rope_theta", path)) ?? 10000.0;
        var rope = new RopeConfig("default", theta);
        if (ropeNode is not null)
        {
            var type = Str(ropeNode, "rope_type", path) ?? Str(ropeNode, "type", path) ?? "default";
            rope = type switch
            {
                "default" => rope,
                "llama3" => new RopeConfig("llama3", theta,
                    Dbl(ropeNode, "factor", path, required: true)!.Value,
                    Dbl(ropeNode, "low_freq_factor", path, required: true)!.Value,
                    Dbl(ropeNode, "high_freq_factor", path, required: true)!.Value,
                    Int(ropeNode, "original_max_position_embeddings", path)!.Value),
                _ => throw new FinQLoraException($"{path}: rope type '{type}' is not supported (supported: default, llama3)"),
            };
        }
        var eos = o["eos_token_id"] switch
        {
            null => [],
            JsonArray a => a.Select(x => x!.GetValue<int>()).ToList(),
            JsonValue v when v.TryGetValue<int>(out var single) => [single],
            _ => throw new FinQLoraException($"{path}: eos_token_id must be an integer or a list of integers"),
        };
        return new LlamaConfig(
            Int(o, "vocab_size", path)!.Value, hidden, Int(o, "intermediate_size", path)!.Value,
            Int(o, "num_hidden_layers", path)!.Value, heads, kvHeads, headDim,
            Dbl(o, "rms_norm_eps", path) ?? 1e-6, rope,
            Bool(o, "tie_word_embeddings", path) ?? false,
            Int(o, "max_position_embeddings", path, required: false) ?? 2048,
            Int(o, "bos_token_id", path, required: false), eos,
            Str(o, "dtype", path) ?? Str(o, "torch_dtype", path),
            o["quantization_config"] as JsonObject);
    }

    private static int? Int(JsonObject o, string key, string path, bool required = true)
    {
        var n = o[key];
        if (n is null) return required ? throw new FinQLoraException($"{path}: required key '{key}' is missing") : null;
        if (n is JsonValue v && v.TryGetValue<long>(out var l) && l is >= int.MinValue and <= int.MaxValue) return (int)l;
        if (n is JsonValue d && d.TryGetValue<double>(out var x) && x == Math.Floor(x) && Math.Abs(x) < int.MaxValue) return (int)x;
        throw new FinQLoraException($"{path}: '{key}' must be an integer, got {n.ToJsonString()}");
    }

    private static double? Dbl(JsonObject o, string key, string path, bool required = false)
    {
        var n = o[key];
        if (n is null) return required ? throw new FinQLoraException($"{path}: required key '{key}' is missing") : null;
        if (n is JsonValue v && v.TryGetValue<double>(out var d)) return d;
        throw new FinQLoraException($"{path}: '{key}' must be a number, got {n.ToJsonString()}");
    }

    private static string? Str(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<string>(out var s)) return s;
        throw new FinQLoraException($"{path}: '{key}' must be a string, got {n.ToJsonString()}");
    }

    private static bool? Bool(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null) return null;
        if (n is JsonValue v && v.TryGetValue<bool>(out var b)) return b;
        throw new FinQLoraException($"{path}: '{key}' must be true or false, got {n.ToJsonString()}");
    }
}
