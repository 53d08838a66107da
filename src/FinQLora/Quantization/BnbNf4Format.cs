using System.Globalization;
using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// The tensors a 4-bit bitsandbytes layer saves (transformers save_pretrained), for module prefix P:
/// P.weight (uint8 [(n+1)/2, 1], or the same bytes viewed as a 16/32-bit type), P.weight.absmax,
/// P.weight.quant_map, P.weight.nested_absmax, P.weight.nested_quant_map and
/// P.weight.quant_state.bitsandbytes__nf4 (or __fp4): the UTF-8 bytes of a JSON object written by
/// Python's json.dumps with quant_type, blocksize, dtype, shape and the nested_* fields.
/// </summary>
public static class BnbNf4Format
{
    public const string StateKeyPrefix = ".weight.quant_state.bitsandbytes__";

    /// <summary>True when <paramref name="contains"/> finds a 4-bit quant state for module <paramref name="prefix"/>.</summary>
    public static bool IsQuantized(string prefix, Func<string, bool> contains) =>
        contains(prefix + StateKeyPrefix + "nf4") || contains(prefix + StateKeyPrefix + "fp4");

    /// <summary>
    /// The named tensors for module <paramref name="prefix"/>, exactly as bitsandbytes saves them, on
    /// the state's device. They are views of the state's tensors (new handles): disposing them does
    /// not free the state.
    /// </summary>
    public static IReadOnlyDictionary<string, Tensor> ToTensors(string prefix, Nf4State s)
    {
        var dev = s.Device;
        var type = s.QuantType == Bnb4BitType.Nf4 ? "nf4" : "fp4";
        var w = prefix + ".weight";
        var result = new Dictionary<string, Tensor>
        {
            [w] = s.Packed.reshape(-1, 1),                                            // [(n + 1) / 2, 1]
            [w + ".absmax"] = s.Absmax.view(-1),
            [w + ".quant_map"] = tensor(Nf4.CodeOf(s.QuantType), device: dev),
        };
        var json = new StringBuilder();
        json.Append($"{{\"quant_type\": \"{type}\", \"blocksize\": {s.BlockSize}, \"dtype\": \"{BnbQuantizationConfig.DTypeName(s.DType)}\", ");
        json.Append($"\"shape\": [{string.Join(", ", s.Shape)}]");
        if (s.Nested is { } nested)
        {
            result[w + ".nested_absmax"] = nested.Absmax.view(-1);
            result[w + ".nested_quant_map"] = nested.Code.view(-1);
            json.Append($", \"nested_blocksize\": {nested.BlockSize}, \"nested_dtype\": \"float32\", \"nested_offset\": {PythonFloat(nested.Offset)}");
        }
        json.Append('}');
        result[w + ".quant_state.bitsandbytes__" + type] = tensor(Encoding.UTF8.GetBytes(json.ToString()), device: dev);
        return result;
    }

    /// <summary>
    /// Reads module <paramref name="prefix"/>'s 4-bit weight. <paramref name="lookup"/> returns the
    /// stored tensor for a full name, or null when absent. Errors name the tensor and the problem.
    /// </summary>
    public static Nf4State FromTensors(string prefix, Func<string, Tensor?> lookup)
    {
        var w = prefix + ".weight";
        Tensor Need(string name) => lookup(name) ?? throw new FinQLoraException($"4-bit checkpoint: tensor '{name}' is missing");

        Bnb4BitType type;
        string stateName;
        var stateTensor = lookup(stateName = w + ".quant_state.bitsandbytes__nf4");
        if (stateTensor is not null) type = Bnb4BitType.Nf4;
        else if ((stateTensor = lookup(stateName = w + ".quant_state.bitsandbytes__fp4")) is not null) type = Bnb4BitType.Fp4;
        else throw new FinQLoraException($"4-bit checkpoint: tensor '{w}.quant_state.bitsandbytes__nf4' is missing (no quant state for '{w}')");

        using var scope = NewDisposeScope();
        var q = ParseState(stateName, RawBytes(stateTensor));
        if (q.QuantType != type)
            throw new FinQLoraException($"4-bit checkpoint: '{stateName}' says quant_type '{(q.QuantType == Bnb4BitType.Nf4 ? "nf4" : "fp4")}'");
        Nf4.CheckBlockSize(q.BlockSize, stateName);
        long n = q.Shape.Aggregate(1L, (a, b) => a * b);
        long blocks = (n + q.BlockSize - 1) / q.BlockSize;

        var weight = Need(w);
        var packedBytes = weight.numel() * weight.element_size();
        if (packedBytes != (n + 1) / 2)
            throw new FinQLoraException($"4-bit checkpoint: '{w}' holds {packedBytes} bytes, but its quant state's shape [{string.Join(", ", q.Shape)}] needs {(n + 1) / 2}");
        var packed = AsBytes(weight);

        var absmax = Need(w + ".absmax");
        if (absmax.numel() != blocks)
            throw new FinQLoraException($"4-bit checkpoint: '{w}.absmax' has {absmax.numel()} values, expected {blocks} (shape [{string.Join(", ", q.Shape)}], blocksize {q.BlockSize})");
        var quantMap = Need(w + ".quant_map");
        if (quantMap.numel() != 16)
            throw new FinQLoraException($"4-bit checkpoint: '{w}.quant_map' has {quantMap.numel()} values, expected 16");
        if (!allclose(quantMap.to(ScalarType.Float32).cpu(), tensor(Nf4.CodeOf(type)), 0, 1e-6))
            throw new FinQLoraException($"4-bit checkpoint: '{w}.quant_map' is not bitsandbytes' {(type == Bnb4BitType.Nf4 ? "nf4" : "fp4")} code");

        Nf4NestedState? nested = null;
        if (q.NestedOffset is float offset)
        {
            if (absmax.dtype != ScalarType.Byte)
                throw new FinQLoraException($"4-bit checkpoint: '{w}.absmax' is {absmax.dtype}, but the quant state says it is double-quantized (expected uint8)");
            int nbs = q.NestedBlockSize ?? throw new FinQLoraException($"4-bit checkpoint: '{stateName}' has nested_offset but no nested_blocksize");
            if (nbs <= 0 || (nbs & (nbs - 1)) != 0)
                throw new FinQLoraException($"4-bit checkpoint: '{stateName}' has nested_blocksize {nbs}, expected a power of two (bitsandbytes uses 256)");
            var nestedAbsmax = Need(w + ".nested_absmax");
            var nestedMap = Need(w + ".nested_quant_map");
            long nestedBlocks = (blocks + nbs - 1) / nbs;
            if (nestedAbsmax.numel() != nestedBlocks)
                throw new FinQLoraException($"4-bit checkpoint: '{w}.nested_absmax' has {nestedAbsmax.numel()} values, expected {nestedBlocks}");
            if (nestedMap.numel() != 256)
                throw new FinQLoraException($"4-bit checkpoint: '{w}.nested_quant_map' has {nestedMap.numel()} values, expected 256");
            nested = new Nf4NestedState(nestedAbsmax.to(ScalarType.Float32).reshape(-1).contiguous(), nestedMap.to(ScalarType.Float32).reshape(-1).contiguous(), offset, nbs);
        }
        else
        {
            if (lookup(w + ".nested_absmax") is not null)
                throw new FinQLoraException($"4-bit checkpoint: '{stateName}' has no nested_offset, but '{w}.nested_absmax' exists");
            if (absmax.dtype == ScalarType.Byte)
                throw new FinQLoraException($"4-bit checkpoint: '{w}.absmax' is uint8 (double-quantized) but '{stateName}' has no nested_offset");
        }
        var state = new Nf4State(packed, nested is null ? absmax.to(ScalarType.Float32).reshape(-1).contiguous() : absmax.reshape(-1).contiguous(),
            q.BlockSize, q.Shape, q.DType, nested, type);
        return state.MoveToOuterDisposeScope();
    }

    private sealed record QuantStateJson(Bnb4BitType QuantType, int BlockSize, ScalarType DType, long[] Shape, int? NestedBlockSize, float? NestedOffset);

    private static QuantStateJson ParseState(string name, byte[] utf8)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(utf8).RootElement;
        }
        catch (JsonException e)
        {
            throw new FinQLoraException($"4-bit checkpoint: '{name}' is not a JSON object: {e.Message}");
        }
        FinQLoraException Bad(string what) => new($"4-bit checkpoint: '{name}': {what}");
        JsonElement Get(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null ? v : throw Bad($"no '{key}'");
        var type = Get("quant_type").GetString() switch
        {
            "nf4" => Bnb4BitType.Nf4,
            "fp4" => Bnb4BitType.Fp4,
            var t => throw Bad($"quant_type '{t}' is not 4-bit nf4 or fp4"),
        };
        var dtypeName = Get("dtype").GetString() ?? "";
        var dtype = BnbQuantizationConfig.ParseDType(dtypeName) ?? throw Bad($"dtype '{dtypeName}' is not bfloat16, float16 or float32");
        var shape = Get("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
        if (shape.Length == 0 || shape.Any(d => d <= 0)) throw Bad($"shape [{string.Join(", ", shape)}] is not a valid tensor shape");
        int? nbs = root.TryGetProperty("nested_blocksize", out var b) && b.ValueKind == JsonValueKind.Number ? b.GetInt32() : null;
        float? offset = root.TryGetProperty("nested_offset", out var o) && o.ValueKind == JsonValueKind.Number ? (float)o.GetDouble() : null;
        if (nbs is not null && offset is null) throw Bad("nested_blocksize without nested_offset");
        if (root.TryGetProperty("nested_dtype", out var nd) && nd.GetString() is { } ndn && ndn != "float32")
            throw Bad($"nested_dtype '{ndn}' is not float32");
        return new QuantStateJson(type, Get("blocksize").GetInt32(), dtype, shape, nbs, offset);
    }

    // The stored bytes of a tensor of any dtype (bitsandbytes may store packed codes as bf16/fp16).
    private static byte[] RawBytes(Tensor t) => t.cpu().contiguous().bytes.ToArray();

    private static Tensor AsBytes(Tensor t)
    {
        if (t.dtype == ScalarType.Byte) return t.reshape(-1).contiguous();
        return tensor(RawBytes(t), device: t.device);
    }

    /// <summary>repr() of the float32 value as a Python float (shortest round-trip double), as json.dumps writes it.</summary>
    public static string PythonFloat(float value)
    {
        double d = value;
        if (double.IsNaN(d)) return "NaN";
        if (double.IsInfinity(d)) return d > 0 ? "Infinity" : "-Infinity";
        if (d == 0) return BitConverter.DoubleToInt64Bits(d) < 0 ? "-0.0" : "0.0";
        var r = d.ToString("E16", CultureInfo.InvariantCulture);
        // shortest digits that round-trip
        for (int p = 0; p <= 16; p++)
        {
            var candidate = d.ToString("E" + p, CultureInfo.InvariantCulture);
            if (double.Parse(candidate, CultureInfo.InvariantCulture) == d) { r = candidate; break; }
        }
        bool negative = r[0] == '-';
        if (negative) r = r[1..];
        int e = r.IndexOf('E');
        string digits = r[..e].Replace(".", "").TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int exp = int.Parse(r[(e + 1)..], CultureInfo.InvariantCulture);
        int decpt = exp + 1;   // value = 0.digits × 10^decpt
        string s;
        if (decpt <= -4 || decpt > 16)
        {
            var mant = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            s = $"{mant}e{(exp < 0 ? "-" : "+")}{Math.Abs(exp):00}";
        }
        else if (decpt <= 0) s = "0." + new string('0', -decpt) + digits;
        else if (decpt >= digits.Length) s = digits + new string('0', decpt - digits.Length) + ".0";
        else s = digits[..decpt] + "." + digits[decpt..];
        return negative ? "-" + s : s;
    }
}
