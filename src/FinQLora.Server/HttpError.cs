using System.Text.Json.Nodes;
using FinQLora.Serving;

namespace FinQLora.Server;

/// <summary>A refusal at the HTTP level (body, JSON, key), with OpenAI's error type and code.</summary>
internal sealed class HttpError(int status, string message, string type = "invalid_request_error", string? code = null, string? param = null) : Exception(message)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    public string? Param { get; } = param;

    public static HttpError BadRequest(string message, string? param = null) => new(400, message, param: param);

    /// <summary>OpenAI's status, type and code for a refusal from the serving core.</summary>
    public static HttpError From(ServingException e) => e.Error switch
    {
        ServingError.ModelNotFound => new(404, e.Message, "invalid_request_error", "model_not_found", e.Param),
        ServingError.ContextLengthExceeded => new(400, e.Message, "invalid_request_error", "context_length_exceeded", e.Param),
        ServingError.Busy => new(429, e.Message, "rate_limit_exceeded", "rate_limit_exceeded", null),
        _ => new(400, e.Message, "invalid_request_error", null, e.Param),
    };

    /// <summary>{"error": {"message", "type", "param", "code"}}: OpenAI's error body.</summary>
    public JsonObject Body() => new()
    {
        ["error"] = new JsonObject { ["message"] = Message, ["type"] = Type, ["param"] = Param, ["code"] = Code },
    };
}
