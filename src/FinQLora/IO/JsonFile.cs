using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;

namespace FinQLora.IO;

/// <summary>
/// Reads the JSON files that arrive with models, adapters and data (config.json, tokenizer.json,
/// adapter_config.json, safetensors headers and indexes): a size cap before anything is read, strict
/// UTF-8, no duplicate keys, bounded nesting — each failure a <see cref="FinQLoraException"/> naming the file.
/// </summary>
public static class JsonFile
{
    /// <summary>Small config files (config.json, adapter_config.json, tokenizer_config.json): 16 MiB is far above any real one.</summary>
    public const long MaxConfigBytes = 16L << 20;

    private static readonly JsonDocumentOptions Options = new() { MaxDepth = 64, AllowDuplicateProperties = false };

    /// <summary>Parses UTF-8 JSON; invalid UTF-8, duplicate keys and nesting over 64 are errors.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> utf8, string path)
    {
        if (!Utf8.IsValid(utf8.Span)) throw new FinQLoraException($"{path}: not valid UTF-8 (corrupt file?)");
        JsonDocument? doc = null;
        try
        {
            doc = JsonDocument.Parse(utf8, Options);   // the duplicate-key check decodes keys already
            CheckStrings(doc.RootElement);
            return doc;
        }
        catch (JsonException e) { throw new FinQLoraException($"{path}: invalid JSON ({OneLine(e.Message)})"); }
        catch (InvalidOperationException)
        {
            doc?.Dispose();
            throw new FinQLoraException($"{path}: a string holds an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF alone): corrupt file");
        }
    }

    /// <summary>
    /// One JSON value from text (a JSON Lines row): duplicate keys, nesting over 64 and unpaired surrogate
    /// escapes are <see cref="JsonException"/>s, like any other syntax error, so callers have one case to handle.
    /// </summary>
    public static JsonNode? ParseNode(string text)
    {
        try
        {
            using (var doc = JsonDocument.Parse(text, Options)) CheckStrings(doc.RootElement);
            return JsonNode.Parse(text, documentOptions: Options);
        }
        catch (InvalidOperationException) { throw new JsonException("a string holds an unpaired UTF-16 surrogate escape"); }
    }

    /// <summary>Decodes every string and key once, so that later reads cannot fail on an unpaired surrogate escape.</summary>
    private static void CheckStrings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.String: e.GetString(); break;
            case JsonValueKind.Array: foreach (var x in e.EnumerateArray()) CheckStrings(x); break;
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) { _ = p.Name; CheckStrings(p.Value); }
                break;
        }
    }

    /// <summary>A JSON object file as a mutable node tree.</summary>
    public static JsonObject ReadObject(string path, long maxBytes = MaxConfigBytes)
    {
        var bytes = InputFile.ReadBytes(path, maxBytes);
        using (Parse(bytes, path)) { }   // the checks above, with their messages
        try { return JsonNode.Parse(bytes, documentOptions: Options) as JsonObject ?? throw new FinQLoraException($"{path}: not a JSON object"); }
        catch (JsonException e) { throw new FinQLoraException($"{path}: invalid JSON ({OneLine(e.Message)})"); }
    }

    /// <summary>A string value, or null when the element is not a string or holds an unpaired surrogate escape.</summary>
    public static string? String(JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.String) return null;
        try { return e.GetString(); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>A string value of a node, or null (not a string, or an unpaired surrogate escape).</summary>
    public static string? String(JsonNode? n)
    {
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.String) return null;
        try { return v.GetValue<string>(); }
        catch (InvalidOperationException) { return null; }
    }

    /// <summary>An integer value in int's range, or null.</summary>
    public static int? Int(JsonElement e) => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var i) ? i : null;

    /// <summary>An integer value of a node in int's range (1.0 counts; 1.5 does not), or null.</summary>
    public static int? Int(JsonNode? n)
    {
        if (n is not JsonValue v || v.GetValueKind() != JsonValueKind.Number) return null;
        if (v.TryGetValue<int>(out var i)) return i;
        if (v.TryGetValue<long>(out _)) return null;
        return v.TryGetValue<double>(out var d) && double.IsFinite(d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue ? (int)d : null;
    }

    /// <summary>A finite number, or null.</summary>
    public static double? Number(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && double.IsFinite(d) ? d : null;

    /// <summary>true/false, or null.</summary>
    public static bool? Bool(JsonNode? n) =>
        n is JsonValue v && v.GetValueKind() is JsonValueKind.True or JsonValueKind.False ? v.GetValue<bool>() : null;

    /// <summary>The first line of a parser message (System.Text.Json appends "Path: … | LineNumber: …" on one line).</summary>
    public static string OneLine(string message) => message.Split('\n')[0].Trim();
}
