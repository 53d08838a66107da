using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Serving;
using TextChatMessage = FinQLora.Text.ChatMessage;

namespace FinQLora.Server;

/// <summary>
/// The fields of an OpenAI chat or completions request body that FinQLora reads, type-checked: a field of
/// the wrong type, or one that asks for something not served here (tools, n &gt; 1, logprobs, penalties), is a
/// 400 naming the field. Fields that change nothing here (user, metadata, store …) are ignored, as vLLM does.
/// ignore_eos (vLLM's extension) keeps generating past end tokens, for benchmarks.
/// </summary>
internal sealed record OpenAiRequest(string Model, SamplingRequest Sampling, bool Stream, bool IncludeUsage)
{
    private static readonly JsonDocumentOptions ParseOptions = new() { MaxDepth = 64 };

    public static JsonObject Parse(byte[] body)
    {
        JsonNode? node;
        try { node = JsonNode.Parse(body, documentOptions: ParseOptions); }
        catch (JsonException e) { throw HttpError.BadRequest($"The request body is not valid JSON: {e.Message}"); }
        return node as JsonObject ?? throw HttpError.BadRequest("The request body must be a JSON object");
    }

    public static OpenAiRequest Read(JsonObject o, bool chat)
    {
        Refuse(o, "tools", "tool calls are not supported by this server");
        Refuse(o, "functions", "function calls are not supported by this server");
        if (o["tool_choice"] is { } tc && !(tc is JsonValue v && v.TryGetValue<string>(out var s) && s == "none"))
            throw HttpError.BadRequest("tool_choice is not supported by this server", "tool_choice");
        if (Int(o, "n") is { } n && n != 1) throw HttpError.BadRequest($"n must be 1 (one choice per request), got {n}", "n");
        if (o["logprobs"] is JsonValue lp && (lp.TryGetValue<bool>(out var b) ? b : lp.GetValueKind() != JsonValueKind.Null))
            throw HttpError.BadRequest("logprobs are not supported by this server", "logprobs");
        foreach (var penalty in new[] { "presence_penalty", "frequency_penalty" })
            if (Number(o, penalty) is { } p && p != 0) throw HttpError.BadRequest($"{penalty} is not supported by this server (only 0)", penalty);
        if (o["logit_bias"] is JsonObject { Count: > 0 }) throw HttpError.BadRequest("logit_bias is not supported by this server", "logit_bias");
        if (o["response_format"] is JsonObject rf && String(rf, "type") is { } t && t != "text")
            throw HttpError.BadRequest($"response_format '{t}' is not supported by this server (only text)", "response_format");
        if (!chat && (o["echo"] is JsonValue e && e.TryGetValue<bool>(out var echo) && echo)) throw HttpError.BadRequest("echo is not supported by this server", "echo");
        if (!chat && (Int(o, "best_of") is > 1)) throw HttpError.BadRequest("best_of must be 1", "best_of");

        var model = String(o, "model") ?? throw HttpError.BadRequest("model is required (GET /v1/models lists the served names)", "model");
        int? maxTokens = (chat ? Int(o, "max_completion_tokens") : null) ?? Int(o, "max_tokens");
        var stop = o["stop"] switch
        {
            null => null,
            JsonValue sv when sv.TryGetValue<string>(out var one) => [one],
            JsonArray arr => arr.Select(x => x is JsonValue xv && xv.TryGetValue<string>(out var str) ? str : throw HttpError.BadRequest("stop must be a string or a list of strings", "stop")).ToList(),
            _ => throw HttpError.BadRequest("stop must be a string or a list of strings", "stop"),
        };
        long? seed = o["seed"] is null ? null : o["seed"] is JsonValue sd && sd.TryGetValue<long>(out var l) ? l : throw HttpError.BadRequest("seed must be an integer", "seed");
        bool stream = Bool(o, "stream") ?? false;
        bool includeUsage = o["stream_options"] is JsonObject so && (Bool(so, "include_usage") ?? false);
        var sampling = new SamplingRequest(maxTokens, Number(o, "temperature"), Number(o, "top_p"), seed, stop, Bool(o, "ignore_eos") ?? false);
        return new OpenAiRequest(model, sampling, stream, includeUsage);
    }

    /// <summary>messages: [{role, content}], content a string or a list of {"type": "text", "text": …} parts.</summary>
    public static IReadOnlyList<TextChatMessage> Messages(JsonObject o)
    {
        if (o["messages"] is not JsonArray arr) throw HttpError.BadRequest("messages is required and must be a list of {role, content} objects", "messages");
        var result = new List<TextChatMessage>();
        for (int i = 0; i < arr.Count; i++)
        {
            if (arr[i] is not JsonObject m) throw HttpError.BadRequest($"messages[{i}] must be an object with role and content", $"messages[{i}]");
            var role = String(m, "role", $"messages[{i}].role") ?? throw HttpError.BadRequest($"messages[{i}].role is required", $"messages[{i}].role");
            var content = m["content"] switch
            {
                null => "",
                JsonValue v when v.TryGetValue<string>(out var s) => s,
                JsonArray parts => string.Concat(parts.Select((p, k) => p is JsonObject po && String(po, "type") == "text" && String(po, "text") is { } text ? text
                    : throw HttpError.BadRequest($"messages[{i}].content[{k}]: only text parts are supported", $"messages[{i}].content"))),
                _ => throw HttpError.BadRequest($"messages[{i}].content must be a string or a list of text parts", $"messages[{i}].content"),
            };
            result.Add(new TextChatMessage(role, content));
        }
        return result;
    }

    /// <summary>prompt: a string, or a list holding one string.</summary>
    public static string Prompt(JsonObject o) => o["prompt"] switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonArray { Count: 1 } a when a[0] is JsonValue v && v.TryGetValue<string>(out var s) => s,
        JsonArray { Count: > 1 } => throw HttpError.BadRequest("prompt must be one string (batches of prompts are not supported; send one request each)", "prompt"),
        _ => throw HttpError.BadRequest("prompt is required and must be a string", "prompt"),
    };

    private static void Refuse(JsonObject o, string field, string why)
    {
        if (o[field] is JsonArray { Count: > 0 } or JsonObject) throw HttpError.BadRequest(why, field);
    }

    private static string? String(JsonObject o, string field, string? param = null) => o[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        _ => throw HttpError.BadRequest($"{param ?? field} must be a string", param ?? field),
    };

    private static int? Int(JsonObject o, string field) => o[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<int>(out var i) => i,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) && d == Math.Floor(d) =>
            d > int.MaxValue ? int.MaxValue : d < int.MinValue ? int.MinValue : (int)d,
        _ => throw HttpError.BadRequest($"{field} must be an integer", field),
    };

    private static double? Number(JsonObject o, string field) => o[field] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue<double>(out var d) => d,
        _ => throw HttpError.BadRequest($"{field} must be a number", field),
    };

    private static bool? Bool(JsonObject o, string field) => o[field] switch
    {
        null => null,
        JsonValue v when v.TryGetValue<bool>(out var b) => b,
        _ => throw HttpError.BadRequest($"{field} must be true or false", field),
    };
}
