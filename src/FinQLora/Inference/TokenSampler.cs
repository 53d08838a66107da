using static TorchSharp.torch;

namespace FinQLora.Inference;

/// <summary>
/// The next token from a step's logits: argmax when greedy, else a draw from softmax(logits / T) cut to
/// the top-p nucleus. Shared by batch generation and the server, so a seeded request gives the same
/// tokens in both.
/// </summary>
public static class TokenSampler
{
    /// <summary>logits: [b, v] fp32 → token ids [b] on the logits' device. <paramref name="generator"/> is required when sampling.</summary>
    public static Tensor Next(Tensor logits, GenerationOptions o, Generator? generator)
    {
        if (o.Greedy) return logits.argmax(-1);
        if (generator is null) throw new ArgumentNullException(nameof(generator), "sampling needs a seeded generator");
        using var scope = NewDisposeScope();
        var probs = nn.functional.softmax(logits / o.Temperature, -1);                              // [b, v]
        if (o.TopP < 1.0)
        {
            var (sorted, index) = probs.sort(-1, descending: true);
            var cumulative = sorted.cumsum(-1);
            // keep the smallest prefix whose mass reaches top_p (the first token always stays)
            var drop = (cumulative - sorted) > o.TopP;
            sorted = sorted.masked_fill(drop, 0);
            probs = zeros_like(probs).scatter_(-1, index, sorted);
            probs = probs / probs.sum(-1, keepdim: true);
        }
        // drawn on the CPU from a seeded generator (TorchSharp cannot create CUDA Generator objects)
        return multinomial(probs.to(ScalarType.Float32).cpu(), 1, generator: generator).squeeze(1).to(logits.device).MoveToOuterDisposeScope();
    }

    /// <summary>The generator a sampled request draws from (seeded; null when greedy).</summary>
    public static Generator? CreateGenerator(GenerationOptions o) => o.Greedy ? null : new Generator(unchecked((ulong)o.Seed), CPU);
}
