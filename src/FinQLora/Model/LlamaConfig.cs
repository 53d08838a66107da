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
        return Parse(IO.JsonFile.ReadObject(path), path);
    }

    public static LlamaConfig Parse(JsonObject o, string path)
    {
        var modelType = Str(o, "model_type", path);
        if (modelType is not null && modelType != "llama")
            throw new FinQLoraException($"{path}: model_type '{modelType}' is not supported (FinQLora runs Llama models)");
        int hidden = Positive(o, "hidden_size", path, MaxWidth)!.Value;
        int heads = Positive(o, "num_attention_heads", path, MaxWidth)!.Value;
        int kvHeads = Positive(o, "num_key_value_heads", path, MaxWidth, required: false) ?? heads;
        if (heads % kvHeads != 0)
            throw new FinQLoraException($"{path}: num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kvHeads})");
        int headDim = Positive(o, "head_dim", path, MaxWidth, required: false) ?? hidden / heads;
        if (headDim <= 0 || headDim % 2 != 0) throw new FinQLoraException($"{path}: head_dim ({headDim}, or hidden_size / num_attention_heads) must be a positive even number (RoPE rotates pairs)");

        RefuseOtherMaths(o, path);
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
        if (!(theta > 0)) throw new FinQLoraException($"{path}: rope_theta must be > 0, got {theta}");
        if (rope.RopeType == "llama3" && !(rope.Factor > 0 && rope.LowFreqFactor > 0 && rope.HighFreqFactor > rope.LowFreqFactor && rope.OriginalMaxPositionEmbeddings > 0))
            throw new FinQLoraException($"{path}: llama3 rope scaling needs factor > 0, high_freq_factor > low_freq_factor > 0 and original_max_position_embeddings > 0");
        var eos = o["eos_token_id"] switch
        {
            null => [],
            JsonArray a => a.Select(x => IO.JsonFile.Int(x) ?? throw new FinQLoraException($"{path}: eos_token_id must be an integer or a list of integers")).ToList(),
            var n when IO.JsonFile.Int(n) is { } single => [single],
            _ => throw new FinQLoraException($"{path}: eos_token_id must be an integer or a list of integers"),
        };
        var quantization = o["quantization_config"] switch
        {
            null => null,
            JsonObject q => q,
            var other => throw new FinQLoraException($"{path}: 'quantization_config' must be an object, got {Shorten(other.ToJsonString())}"),
        };
        double eps = Dbl(o, "rms_norm_eps", path) ?? 1e-6;
        if (!(eps > 0)) throw new FinQLoraException($"{path}: rms_norm_eps must be > 0, got {eps}");
        return new LlamaConfig(
            Positive(o, "vocab_size", path, MaxVocab)!.Value, hidden, Positive(o, "intermediate_size", path, MaxWidth * 8)!.Value,
            Positive(o, "num_hidden_layers", path, MaxLayers)!.Value, heads, kvHeads, headDim,
            eps, rope,
            Bool(o, "tie_word_embeddings", path) ?? false,
            Positive(o, "max_position_embeddings", path, int.MaxValue, required: false) ?? 2048,
            Int(o, "bos_token_id", path, required: false), eos,
            Str(o, "dtype", path) ?? Str(o, "torch_dtype", path),
            quantization);
    }

    /// <summary>
    /// Keys of transformers' LlamaConfig that change the forward pass in ways FinQLora does not compute: refused
    /// with the key and value rather than ignored (ignoring them gives a model that runs and computes something else).
    /// </summary>
    private static void RefuseOtherMaths(JsonObject o, string path)
    {
        string Shown(string key) => Shorten(o[key]!.ToJsonString());
        if (o["hidden_act"] is { } act && IO.JsonFile.String(act) is not ("silu" or "swish"))
            throw new FinQLoraException($"{path}: hidden_act {Shown("hidden_act")} is not supported: FinQLora's Llama MLP computes silu (swish)");
        foreach (var key in new[] { "attention_bias", "mlp_bias" })
            if (o[key] is { } b && IO.JsonFile.Bool(b) != false)
                throw new FinQLoraException($"{path}: {key} {Shown(key)} is not supported: FinQLora's Llama has no bias terms (false is the Llama default)");
        foreach (var key in new[] { "rope_scaling", "rope_parameters" })
            if (o[key] is { } r && r is not JsonObject)
                throw new FinQLoraException($"{path}: {key} must be an object such as {{\"rope_type\": \"llama3\", \"factor\": 8.0, …}} or null, got {Shown(key)}");
    }

    // Far above any Llama (3.1-405B: hidden 16384, 126 layers, vocab 128256), low enough that a corrupt
    // config cannot ask for a model whose size overflows the arithmetic that plans it.
    private const int MaxWidth = 1 << 17, MaxLayers = 1024, MaxVocab = 1 << 24;

    private static int? Positive(JsonObject o, string key, string path, int max, bool required = true)
    {
        var v = Int(o, key, path, required);
        if (v is { } x && (x <= 0 || x > max)) throw new FinQLoraException($"{path}: '{key}' must be between 1 and {max}, got {x}");
        return v;
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";

    private static int? Int(JsonObject o, string key, string path, bool required = true)
    {
        var n = o[key];
        if (n is null) return required ? throw new FinQLoraException($"{path}: required key '{key}' is missing") : null;
        return IO.JsonFile.Int(n) ?? throw new FinQLoraException($"{path}: '{key}' must be an integer, got {Shorten(n.ToJsonString())}");
    }

    private static double? Dbl(JsonObject o, string key, string path, bool required = false)
    {
        var n = o[key];
        if (n is null) return required ? throw new FinQLoraException($"{path}: required key '{key}' is missing") : null;
        return IO.JsonFile.Number(n) ?? throw new FinQLoraException($"{path}: '{key}' must be a finite number, got {Shorten(n.ToJsonString())}");
    }

    private static string? Str(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null) return null;
        return IO.JsonFile.String(n) ?? throw new FinQLoraException($"{path}: '{key}' must be a string, got {Shorten(n.ToJsonString())}");
    }

    private static bool? Bool(JsonObject o, string key, string path)
    {
        var n = o[key];
        if (n is null) return null;
        return IO.JsonFile.Bool(n) ?? throw new FinQLoraException($"{path}: '{key}' must be true or false, got {Shorten(n.ToJsonString())}");
    }
}
