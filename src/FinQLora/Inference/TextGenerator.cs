using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Inference;

/// <summary>
/// Batched generation with a KV cache. Prompts are left-padded; each row's positions start at 0 at its
/// first real token, and the attention mask hides the padding (as transformers' generate does).
/// A row stops at any of the stop ids; the batch stops when every row has stopped or after
/// MaxNewTokens.
/// </summary>
public static class TextGenerator
{
    public static IReadOnlyList<GenerationResult> Generate(LlamaForCausalLM model, IReadOnlyList<int[]> prompts,
        IReadOnlySet<int> stopIds, int padId, GenerationOptions options)
    {
        if (prompts.Count == 0) return [];
        if (prompts.Any(p => p.Length == 0)) throw new FinQLoraException("generate: every prompt needs at least one token");
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var dev = model.Device;
        int b = prompts.Count, promptLen = prompts.Max(p => p.Length);
        bool padded = prompts.Any(p => p.Length != promptLen);

        var ids = new long[b * promptLen];
        var real = new bool[b * promptLen];
        var pos = new long[b * promptLen];
        for (int r = 0; r < b; r++)
        {
            int offset = promptLen - prompts[r].Length;
            for (int j = 0; j < promptLen; j++)
            {
                bool isReal = j >= offset;
                ids[r * promptLen + j] = isReal ? prompts[r][j - offset] : padId;
                real[r * promptLen + j] = isReal;
                pos[r * promptLen + j] = isReal ? j - offset : 0;
            }
        }
        int capacity = promptLen + options.MaxNewTokens;
        var c = model.Config;
        using var cache = new KvCache(c.NumHiddenLayers, b, c.NumKeyValueHeads, capacity, c.HeadDim, model.DType, dev);
        var keyReal = zeros([b, capacity], ScalarType.Bool, dev);                                // [b, t_max]
        keyReal.narrow(1, 0, promptLen).copy_(tensor(real, [b, promptLen]).to(dev));
        var input = tensor(ids, [b, promptLen]).to(dev);                                          // [b, s]
        var positions = tensor(pos, [b, promptLen]).to(dev);                                      // [b, s]
        var nextPos = positions.narrow(1, promptLen - 1, 1) + 1;                                  // [b, 1]

        Tensor? mask = padded ? PrefillMask(keyReal.narrow(1, 0, promptLen), dev) : null;
        using var gen = TokenSampler.CreateGenerator(options);
        var outputs = Enumerable.Range(0, b).Select(_ => new List<int>()).ToArray();
        var stopped = new bool[b];
        var stopTensor = tensor(stopIds.Select(x => (long)x).DefaultIfEmpty(-1).ToArray()).to(dev);
        var finished = zeros(b, ScalarType.Bool, dev);

        for (int step = 0; step < options.MaxNewTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var hidden = model.model.Forward(input, positions, mask, cache);                       // [b, s, d]
            var last = hidden.narrow(1, hidden.shape[1] - 1, 1);                                   // [b, 1, d]
            var logits = model.lm_head.call(last).squeeze(1).to(ScalarType.Float32);              // [b, v]
            if (!isfinite(logits).all().item<bool>()) throw NonFiniteLogits.Error("generation");
            var next = TokenSampler.Next(logits, options, gen);                                     // [b]
            next = where(finished, tensor((long)padId, device: dev), next);
            var isStop = isin(next, stopTensor).logical_and(finished.logical_not());
            var nextHost = next.cpu().data<long>().ToArray();
            var stopHost = isStop.cpu().data<bool>().ToArray();
            for (int r = 0; r < b; r++)
            {
                if (stopped[r]) continue;
                if (stopHost[r]) stopped[r] = true; else outputs[r].Add((int)nextHost[r]);
            }
            finished.logical_or_(isStop);
            if (stopped.All(x => x)) break;
            // Next step: one token per row at the next position (finished rows are fed padding; their output is ignored).
            keyReal.narrow(1, cache.Length, 1).fill_(true);
            input.Dispose(); positions.Dispose();
            input = next.unsqueeze(1).MoveToOuterDisposeScope();                                   // [b, 1]
            positions = nextPos.clone().MoveToOuterDisposeScope();
            nextPos.add_(1);
            mask = padded ? keyReal.narrow(1, 0, cache.Length + 1).view(b, 1, 1, cache.Length + 1).MoveToOuterDisposeScope() : null;
        }
        return outputs.Select((o, r) => new GenerationResult(o.ToArray(), stopped[r])).ToList();
    }

    /// <summary>[b, 1, s, s]: causal and not padding; each position may always see itself, so fully padded rows stay finite.</summary>
    private static Tensor PrefillMask(Tensor keyReal, Device dev)
    {
        long b = keyReal.shape[0], s = keyReal.shape[1];
        var causal = ones([s, s], ScalarType.Bool, dev).tril();                                    // [s, s]
        var mask = causal.unsqueeze(0).logical_and(keyReal.unsqueeze(1));                           // [b, s, s]
        mask = mask.logical_or(eye(s, dtype: ScalarType.Bool, device: dev).unsqueeze(0));
        return mask.unsqueeze(1);                                                                   // [b, 1, s, s]
    }
}
