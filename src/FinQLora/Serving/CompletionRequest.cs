using FinQLora.Inference;

namespace FinQLora.Serving;

/// <summary>What the caller asked for, before validation (null = the server's default).</summary>
public sealed record SamplingRequest(int? MaxTokens = null, double? Temperature = null, double? TopP = null, long? Seed = null,
    IReadOnlyList<string>? Stop = null, bool IgnoreEos = false);

/// <summary>
/// One validated request: prompt token ids, the adapter (null = base model), decoding options with the
/// new-token limit, text stop sequences, and whether the tokenizer's end tokens are ignored (benchmarks).
/// </summary>
public sealed record CompletionRequest(string Model, int[] PromptIds, string? Adapter, GenerationOptions Options,
    IReadOnlyList<string> StopSequences, bool IgnoreEos = false);

/// <summary>Why a generation ended: an end token or stop sequence, or the token limit.</summary>
public enum FinishReason { Stop, Length }

/// <summary>
/// A piece of a streamed completion: new text (possibly empty), and on the last piece the finish reason.
/// Token counts are those so far: prompt tokens, and generated tokens (an end token not counted).
/// </summary>
public sealed record CompletionChunk(string Text, FinishReason? Finish, int PromptTokens, int CompletionTokens);
