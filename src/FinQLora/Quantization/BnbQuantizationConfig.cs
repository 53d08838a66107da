using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// config.json's "quantization_config" for a bitsandbytes 4-bit checkpoint (transformers'
/// BitsAndBytesConfig). Only 4-bit (nf4 or fp4) is accepted; anything else is an error that
/// names the key.
/// </summary>
public sealed record BnbQuantizationConfig(
    Bnb4BitType bnb_4bit_quant_type,
    bool bnb_4bit_use_double_quant,
    ScalarType bnb_4bit_compute_dtype,
    string bnb_4bit_quant_storage,
    IReadOnlyList<string> llm_int8_skip_modules)
{
    /// <summary>What `finqlora quantize` writes: NF4, double quantization, bf16 compute, uint8 storage.</summary>
    public static BnbQuantizationConfig Default { get; } = new(Bnb4BitType.Nf4, true, ScalarType.BFloat16, "uint8", []);

    public static BnbQuantizationConfig Parse(JsonElement q)
    {
        if (q.ValueKind != JsonValueKind.Object) throw Bad("must be a JSON object");
        var method = Str(q, "quant_method") ?? "bitsandbytes";
        if (method != "bitsandbytes")
            throw Bad($"quant_method is '{method}': only bitsandbytes 4-bit checkpoints are supported (or load the unquantized model with --quantize nf4)");
        bool in8 = Bool(q, "load_in_8bit") ?? Bool(q, "_load_in_8bit") ?? false;
        bool in4 = Bool(q, "load_in_4bit") ?? Bool(q, "_load_in_4bit") ?? false;
        if (in8) throw Bad("load_in_8bit is true: 8-bit bitsandbytes checkpoints are not supported, only 4-bit (nf4/fp4)");
        if (!in4) throw Bad("load_in_4bit is not true: only 4-bit bitsandbytes checkpoints are supported");
        var type = (Str(q, "bnb_4bit_quant_type") ?? "fp4") switch   // transformers' default is fp4
        {
            "nf4" => Bnb4BitType.Nf4,
            "fp4" => Bnb4BitType.Fp4,
            var other => throw Bad($"bnb_4bit_quant_type is '{other}': expected nf4 or fp4"),
        };
        var computeName = Str(q, "bnb_4bit_compute_dtype") ?? "float32";
        var compute = ParseDType(computeName) ?? throw Bad($"bnb_4bit_compute_dtype is '{computeName}': expected bfloat16, float16 or float32");
        var storage = Str(q, "bnb_4bit_quant_storage") ?? "uint8";
        if (storage is not ("uint8" or "bfloat16" or "float16" or "float32"))
            throw Bad($"bnb_4bit_quant_storage is '{storage}': expected uint8, bfloat16, float16 or float32");
        var skip = q.TryGetProperty("llm_int8_skip_modules", out var s) && s.ValueKind == JsonValueKind.Array
            ? s.EnumerateArray().Select(e => e.GetString() ?? "").ToList()
            : [];
        return new BnbQuantizationConfig(type, Bool(q, "bnb_4bit_use_double_quant") ?? false, compute, storage, skip);
    }

    /// <summary>The object transformers writes for this configuration (BitsAndBytesConfig.to_dict).</summary>
    public JsonObject ToJson() => new()
    {
        ["_load_in_4bit"] = true,
        ["_load_in_8bit"] = false,
        ["bnb_4bit_compute_dtype"] = DTypeName(bnb_4bit_compute_dtype),
        ["bnb_4bit_quant_storage"] = bnb_4bit_quant_storage,
        ["bnb_4bit_quant_type"] = bnb_4bit_quant_type == Bnb4BitType.Nf4 ? "nf4" : "fp4",
        ["bnb_4bit_use_double_quant"] = bnb_4bit_use_double_quant,
        ["llm_int8_enable_fp32_cpu_offload"] = false,
        ["llm_int8_has_fp16_weight"] = false,
        ["llm_int8_skip_modules"] = llm_int8_skip_modules.Count == 0 ? null : new JsonArray([.. llm_int8_skip_modules.Select(m => (JsonNode?)m)]),
        ["llm_int8_threshold"] = JsonNode.Parse("6.0"),   // written as 6.0: transformers refuses an int ("must be a float")
        ["load_in_4bit"] = true,
        ["load_in_8bit"] = false,
        ["quant_method"] = "bitsandbytes",
    };

    /// <summary>torch dtype names as bitsandbytes writes them ("bfloat16", "float16", "float32"), "torch." prefix allowed.</summary>
    public static ScalarType? ParseDType(string name) => (name.StartsWith("torch.", StringComparison.Ordinal) ? name[6..] : name) switch
    {
        "bfloat16" => ScalarType.BFloat16,
        "float16" or "half" => ScalarType.Float16,
        "float32" or "float" => ScalarType.Float32,
        _ => null,
    };

    public static string DTypeName(ScalarType t) => t switch
    {
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Float16 => "float16",
        ScalarType.Float32 => "float32",
        _ => throw new FinQLoraException($"dtype {t} has no bitsandbytes name (expected bfloat16, float16 or float32)"),
    };

    private static FinQLoraException Bad(string what) => new($"config.json quantization_config: {what}");

    private static string? Str(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw Bad($"{key} must be a string, got {v.GetRawText()}")
            : null;

    private static bool? Bool(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null
            ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Bad($"{key} must be true or false, got {v.GetRawText()}")
            : null;
}
