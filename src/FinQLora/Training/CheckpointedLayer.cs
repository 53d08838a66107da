using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>
/// Gradient checkpointing for one decoder layer (TorchSharp has no utility for it): the forward
/// pass runs without a graph and keeps only the layer's input; the backward pass runs the layer
/// again with a graph and back-propagates through it, accumulating into the layer's trainable
/// parameters' .grad. Dropout draws the same masks both times because the global RNG is re-seeded
/// with the same per-(step, layer) seed before each run.
/// </summary>
public sealed class CheckpointedLayer : autograd.SingleTensorFunction<CheckpointedLayer>
{
    public override string Name => nameof(CheckpointedLayer);

    /// <summary>Runs <paramref name="layer"/> on <paramref name="x"/> ([b, s, d], must require grad) with recomputation in backward.</summary>
    public static Tensor Run(LlamaDecoderLayer layer, Tensor x, AttentionContext ctx, long seed) => apply(x, layer, ctx, seed);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var layer = (LlamaDecoderLayer)vars[1];
        var attention = (AttentionContext)vars[2];
        long seed = (long)vars[3];
        if (attention.Cache is not null) throw new InvalidOperationException("gradient checkpointing runs without a KV cache");
        // cos/sin/mask belong to the caller's dispose scope: autograd keeps its own references to saved tensors.
        ctx.save_for_backward(attention.Mask is null ? [x, attention.Cos, attention.Sin] : [x, attention.Cos, attention.Sin, attention.Mask]);
        ctx.save_data("layer", layer);
        ctx.save_data("causal", attention.IsCausal);
        ctx.save_data("seed", seed);
        using var _ = no_grad();
        Runtime.Seeding.SeedAll(seed);
        return layer.Forward(x, attention);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var x = saved[0];
        var layer = (LlamaDecoderLayer)ctx.get_data("layer");
        var attention = new AttentionContext(saved[1], saved[2], saved.Count > 3 ? saved[3] : null, (bool)ctx.get_data("causal"), null);
        long seed = (long)ctx.get_data("seed");
        using var scope = NewDisposeScope();
        var input = x.detach().requires_grad_(true);
        using (enable_grad())
        {
            Runtime.Seeding.SeedAll(seed);
            var y = layer.Forward(input, attention);
            var trainable = layer.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
            autograd.backward([y], [gradOutput], inputs: [input, .. trainable]);
            AutogradHandoff.Release();   // the gradients the layer's own custom functions returned
        }
        var grad = input.grad!;
        AutogradHandoff.Dispose([.. saved, gradOutput]);
        // one entry per argument of apply (x, layer, ctx, seed); null = no gradient
        return AutogradHandoff.Return(grad, null, null, null);
    }
}
