namespace FinQLora.Serving;

/// <summary>Why a request was refused; the HTTP server maps each to OpenAI's status and error type.</summary>
public enum ServingError
{
    /// <summary>A field is missing, of the wrong type or out of range (HTTP 400).</summary>
    InvalidRequest,
    /// <summary>The model name is neither the base model nor a loaded adapter (HTTP 404).</summary>
    ModelNotFound,
    /// <summary>The prompt, or prompt plus max tokens, does not fit the context (HTTP 400, code context_length_exceeded).</summary>
    ContextLengthExceeded,
    /// <summary>Every batch row is taken and the queue is full (HTTP 429).</summary>
    Busy,
}

/// <summary>A request the server refuses; <see cref="Param"/> names the request field at fault, when one is.</summary>
public sealed class ServingException(string message, ServingError error, string? param = null) : FinQLoraException(message)
{
    public ServingError Error { get; } = error;
    public string? Param { get; } = param;
}
