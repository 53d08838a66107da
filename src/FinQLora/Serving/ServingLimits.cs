namespace FinQLora.Serving;

/// <summary>
/// How much a server takes on at once. <see cref="MaxBatch"/> requests decode together (one KV-cache row
/// each); up to <see cref="MaxQueue"/> more wait for a row; beyond that a request is refused as busy.
/// A request may ask for at most <see cref="MaxTokens"/> new tokens, and its prompt plus those tokens
/// must fit <see cref="MaxContext"/> (further capped by the model's max_position_embeddings).
/// </summary>
public sealed record ServingLimits(int MaxBatch = 8, int MaxQueue = 64, int MaxContext = 2048, int MaxTokens = 1024)
{
    public ServingLimits Validated()
    {
        if (MaxBatch is < 1 or > 1024) throw new FinQLoraException($"serving max batch must be in 1..1024, got {MaxBatch}", exitCode: 2);
        if (MaxQueue < 0) throw new FinQLoraException($"serving max queue must be >= 0, got {MaxQueue}", exitCode: 2);
        if (MaxContext < 2) throw new FinQLoraException($"serving max context must be at least 2 tokens, got {MaxContext}", exitCode: 2);
        if (MaxTokens < 1) throw new FinQLoraException($"serving max tokens per request must be at least 1, got {MaxTokens}", exitCode: 2);
        return this;
    }
}
