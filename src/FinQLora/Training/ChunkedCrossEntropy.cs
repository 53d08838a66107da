using static TorchSharp.torch;
using FinQLora.Runtime;

namespace FinQLora.Training;

/// <summary>
/// Cross-entropy of the output head computed over chunks of positions, so fp32 logits over the
/// whole vocabulary never exist for more than one chunk at a time, in the forward or the backward
/// pass. Input: the hidden states of the positions that have a label [n, d], the head weight [v, d],
/// labels [n]. Output: the summed loss (fp32 scalar). The backward pass recomputes each chunk's
/// logits and uses d(loss)/d(logits) = softmax − onehot directly.
/// </summary>
public sealed class ChunkedCrossEntropy : autograd.SingleTensorFunction<ChunkedCrossEntropy>
{
    public override string Name => nameof(ChunkedCrossEntropy);

    /// <summary>Sum over positions of −log p(label). <paramref name="chunk"/> positions per slice.</summary>
    public static Tensor Sum(Tensor hidden, Tensor weight, Tensor labels, int chunk = 1024) => apply(hidden, weight, labels, chunk);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var hidden = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        var labels = (Tensor)vars[2];
        int chunk = (int)vars[3];
        ctx.save_for_backward([hidden, weight, labels]);
        ctx.save_data("chunk", chunk);
        using var scope = NewDisposeScope();
        var total = zeros(1, ScalarType.Float32, hidden.device);
        long n = hidden.shape[0];
        for (long start = 0; start < n; start += chunk)
        {
            using var step = NewDisposeScope();
            long len = Math.Min(chunk, n - start);
            var logits = nn.functional.linear(hidden.narrow(0, start, len), weight).to(ScalarType.Float32);  // [c, v]
            var lse = logits.logsumexp(-1);                                                                  // [c]
            var target = logits.gather(1, labels.narrow(0, start, len).unsqueeze(1)).squeeze(1);              // [c]
            total.add_((lse - target).sum());
        }
        return total.squeeze(0).MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        using var scope = NewDisposeScope();
        var saved = ctx.get_saved_variables();
        Tensor hidden = saved[0], weight = saved[1], labels = saved[2];
        int chunk = (int)ctx.get_data("chunk");
        long n = hidden.shape[0];
        bool wantWeight = weight.requires_grad;
        var gradHidden = empty_like(hidden);
        var gradWeight = wantWeight ? zeros(weight.shape, ScalarType.Float32, weight.device) : null;
        var g = gradOutput.to(ScalarType.Float32);
        gradOutput.Dispose();
        for (long start = 0; start < n; start += chunk)
        {
            using var step = NewDisposeScope();
            long len = Math.Min(chunk, n - start);
            var h = hidden.narrow(0, start, len);
            var logits = nn.functional.linear(h, weight).to(ScalarType.Float32);                              // [c, v]
            var dlogits = nn.functional.softmax(logits, -1);
            dlogits.scatter_add_(1, labels.narrow(0, start, len).unsqueeze(1), full([len, 1], -1f, ScalarType.Float32, h.device));
            dlogits.mul_(g);
            var d = dlogits.to(hidden.dtype);
            gradHidden.narrow(0, start, len).copy_(d.matmul(weight));                                         // [c, d]
            if (gradWeight is not null) gradWeight.add_(d.t().matmul(h).to(ScalarType.Float32));              // [v, d]
        }
        // one entry per argument of apply (hidden, weight, labels, chunk); null = no gradient
        var gradWeightOut = gradWeight?.to(weight.dtype);
        AutogradHandoff.Dispose(saved);
        return AutogradHandoff.Return(gradHidden, gradWeightOut, null, null);
    }
}
