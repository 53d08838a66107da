using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>A micro-batch's summed token loss and how many tokens it covers.</summary>
public sealed record LossResult(Tensor Sum, long Tokens);

/// <summary>
/// The training loss of a causal LM: labels are aligned with the input ids (-100 = ignore, e.g. the
/// prompt and padding), shifted by one inside; only labelled positions reach the output head, and
/// their cross-entropy is computed in chunks (<see cref="ChunkedCrossEntropy"/>). With gradient
/// checkpointing each decoder layer is recomputed in the backward pass.
/// </summary>
public static class CausalLmLoss
{
    public const long IgnoreIndex = -100;

    /// <summary>
    /// The flattened indices into the shifted targets [rows * (length - 1)] that carry a label, worked out on
    /// the host from the batch's labels [rows * length] (-100 = none), in the order the device path finds them.
    /// </summary>
    public static long[] LabelledPositions(long[] labels, int rows, int length)
    {
        var result = new List<long>();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < length - 1; j++)
                if (labels[(long)r * length + j + 1] != IgnoreIndex) result.Add((long)r * (length - 1) + j);
        return result.ToArray();
    }

    /// <summary>The summed cross-entropy over the labelled positions of a micro-batch, and their count.</summary>
    /// <param name="ids">[b, s] int64</param>
    /// <param name="labels">[b, s] int64, -100 where no loss</param>
    /// <param name="positions">[b, s] int64 (restart at 0 per packed sequence), or null for 0..s-1</param>
    /// <param name="segments">[b, s] int64 packed-sequence ids (attention stays inside a segment), or null</param>
    /// <param name="mark">called with "forward" when the hidden states are enqueued and "loss" after the loss (phase timing), or null</param>
    /// <param name="model">the model whose decoder runs (its head weight gives the logits)</param>
    /// <param name="gradientCheckpointing">recompute each decoder layer in the backward pass</param>
    /// <param name="seed">the micro-batch's RNG seed (<see cref="RngSeeds.ForMicroBatch"/>): dropout draws depend only on it</param>
    /// <param name="chunk">rows of logits computed at a time (<see cref="ChunkedCrossEntropy"/>)</param>
    /// <param name="labelled">the positions with a label, from <see cref="LabelledPositions"/> on the host, or null to find them
    /// on the device (which waits for the GPU: a host synchronisation per call)</param>
    public static LossResult Compute(LlamaForCausalLM model, Tensor ids, Tensor labels, Tensor? positions, Tensor? segments,
        bool gradientCheckpointing, long seed, int chunk = 1024, Action<string>? mark = null, long[]? labelled = null)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], s = ids.shape[1];
        positions ??= arange(s, ScalarType.Int64, ids.device).unsqueeze(0).expand(b, s);
        Tensor? mask = null;
        if (segments is not null)
        {
            var causal = ones([s, s], ScalarType.Bool, ids.device).tril();                              // [s, s]
            var same = segments.unsqueeze(2).eq(segments.unsqueeze(1));                                 // [b, s, s]
            mask = same.logical_and(causal).unsqueeze(1);                                               // [b, 1, s, s]
        }
        Func<IReadOnlyList<LlamaDecoderLayer>, Tensor, AttentionContext, Tensor>? runLayers = null;
        if (gradientCheckpointing) runLayers = (layers, x, ctx) => CheckpointedLayers.Run(layers, x, ctx, seed * 1000);
        else Runtime.Seeding.SeedAll(seed);
        var hidden = model.model.Forward(ids, positions, mask, null, runLayers);                          // [b, s, d]
        mark?.Invoke("forward");
        long d = hidden.shape[2];
        var target = labels.narrow(1, 1, s - 1).reshape(-1);                                              // [b*(s-1)]
        var keep = labelled is null ? target.ne(IgnoreIndex).nonzero().squeeze(1)                        // [n]
                                    : tensor(labelled).to(ids.device);
        long n = keep.shape[0];
        if (n == 0) return new LossResult(zeros(1, ScalarType.Float32, ids.device).squeeze(0).MoveToOuterDisposeScope(), 0);
        var h = hidden.narrow(1, 0, s - 1).reshape(-1, d).index_select(0, keep);                           // [n, d]
        var loss = ChunkedCrossEntropy.Sum(h, model.HeadWeight, target.index_select(0, keep), chunk);
        mark?.Invoke("loss");
        return new LossResult(loss.MoveToOuterDisposeScope(), n);
    }
}
