using FinQLora.Config;
using FinQLora.Data;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>The mean token loss on (up to 64 of) the validation examples, in eval mode and without gradients.</summary>
public static class ValidationLoss
{
    public static double Of(LlamaForCausalLM model, List<TokenizedExample> valid, TrainingSection t, int padId, Device device)
    {
        model.eval();
        try
        {
            using var _ = no_grad();
            double sum = 0, tokens = 0;
            foreach (var b in Batcher.Batches(valid.Take(64).ToList(), t.BatchSize, padId, seed: 0))
            {
                using var scope = NewDisposeScope();
                var loss = CausalLmLoss.Compute(model, tensor(b.InputIds, [b.Rows, b.Length]).to(device), tensor(b.Labels, [b.Rows, b.Length]).to(device),
                    tensor(b.Positions, [b.Rows, b.Length]).to(device), null, false, 0, t.LossChunkSize);
                sum += loss.Sum.item<float>();
                tokens += loss.Tokens;
            }
            return sum / Math.Max(1, tokens);
        }
        finally { model.train(); }
    }
}
