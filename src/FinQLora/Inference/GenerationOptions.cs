namespace FinQLora.Inference;

/// <summary>Decoding settings: temperature 0 is greedy; otherwise sampling with temperature and top-p, seeded.</summary>
public sealed record GenerationOptions(int MaxNewTokens = 64, double Temperature = 0, double TopP = 1.0, long Seed = 0)
{
    public bool Greedy => Temperature <= 0;
}

/// <summary>One row's result: the new token ids (stop token excluded) and whether a stop token ended it.</summary>
public sealed record GenerationResult(int[] TokenIds, bool Stopped);
