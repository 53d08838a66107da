using FinQLora.Model;
using FinQLora.Text;
using static TorchSharp.torch;

namespace FinQLora.Inference;

/// <summary>A completion's log-probability given its prompt.</summary>
public sealed record CompletionScore(double LogProb, int NTokens);

/// <summary>
/// Scores completions: the prompt is tokenized with BOS, the completion separately without special
/// tokens, the two concatenated; the result is the sum of log p(completion token | everything before),
/// computed in fp32 from the model's logits. Rows are right-padded into batches (causal attention
/// never looks right, so padding does not change real positions).
/// </summary>
public static class Scorer
{
    public static IReadOnlyList<CompletionScore> Score(LlamaForCausalLM model, LlamaTokenizer tokenizer,
        IReadOnlyList<(string Prompt, string Completion)> rows, int batchSize = 8)
    {
        var encoded = rows.Select(r => (Prompt: tokenizer.Encode(r.Prompt, addBos: true), Completion: tokenizer.Encode(r.Completion, addBos: false))).ToList();
        return ScoreIds(model, encoded, tokenizer.PadId, batchSize);
    }

    public static IReadOnlyList<CompletionScore> ScoreIds(LlamaForCausalLM model, IReadOnlyList<(int[] Prompt, int[] Completion)> rows, int padId, int batchSize = 8)
    {
        var results = new CompletionScore[rows.Count];
        using var _ = no_grad();
        for (int start = 0; start < rows.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var batch = Enumerable.Range(start, Math.Min(batchSize, rows.Count - start)).ToList();
            int len = batch.Max(i => rows[i].Prompt.Length + rows[i].Completion.Length);
            var ids = new long[batch.Count * len];
            Array.Fill(ids, padId);
            for (int r = 0; r < batch.Count; r++)
            {
                var (p, c) = rows[batch[r]];
                for (int j = 0; j < p.Length; j++) ids[r * len + j] = p[j];
                for (int j = 0; j < c.Length; j++) ids[r * len + p.Length + j] = c[j];
            }
            var input = tensor(ids, [batch.Count, len]).to(model.Device);             // [b, s]
            var logits = model.Logits(input);                                          // [b, s, v]
            for (int r = 0; r < batch.Count; r++)
            {
                var (p, c) = rows[batch[r]];
                if (c.Length == 0) { results[batch[r]] = new CompletionScore(0, 0); continue; }
                if (p.Length == 0) throw new FinQLoraException("score: the prompt must have at least one token (BOS)");
                // logits at positions p-1 .. p+c-2 predict the completion's tokens
                var rowLogits = logits[r].narrow(0, p.Length - 1, c.Length).to(ScalarType.Float32);   // [c, v]
                var logp = nn.functional.log_softmax(rowLogits, -1);
                var targets = tensor(c.Select(x => (long)x).ToArray()).to(model.Device).unsqueeze(1);  // [c, 1]
                double sum = logp.gather(1, targets).sum().to(ScalarType.Float64).cpu().item<double>();
                if (!double.IsFinite(sum)) throw NonFiniteLogits.Error("score");
                results[batch[r]] = new CompletionScore(sum, c.Length);
            }
        }
        return results;
    }
}
