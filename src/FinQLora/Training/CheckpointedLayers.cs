using FinQLora.Model;
using FinQLora.Runtime;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>
/// Gradient checkpointing for a stack of decoder layers (TorchSharp has no utility for it): the
/// forward pass runs the layers without a graph and keeps only each layer's input; the backward
/// pass walks the layers from the last, running each again with a graph and back-propagating
/// through it, accumulating into the layers' trainable parameters' .grad. Dropout draws the same
/// masks both times because the global RNG is re-seeded with the same per-layer seed before each
/// run. One autograd node covers the whole stack: TorchSharp allocates an output-sized tensor per
/// custom-function output and keeps it until the graph is freed, so a node per layer would hold an
/// extra hidden-state copy per layer (1 GiB on the 8B shape at 2 × 2048).
/// </summary>
public sealed class CheckpointedLayers : autograd.SingleTensorFunction<CheckpointedLayers>
{
    public override string Name => nameof(CheckpointedLayers);

    /// <summary>
    /// Runs <paramref name="layers"/> on <paramref name="x"/> ([b, s, d], must require grad) with
    /// recomputation in backward; layer i draws its dropout with seed <paramref name="seed"/> + i.
    /// </summary>
    public static Tensor Run(IReadOnlyList<LlamaDecoderLayer> layers, Tensor x, AttentionContext ctx, long seed) =>
        apply(x.requires_grad ? x : x.detach().requires_grad_(true), layers, ctx, seed);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var layers = (IReadOnlyList<LlamaDecoderLayer>)vars[1];
        var attention = (AttentionContext)vars[2];
        long seed = (long)vars[3];
        if (attention.Cache is not null) throw new InvalidOperationException("gradient checkpointing runs without a KV cache");
        using var scope = NewDisposeScope();
        var inputs = new List<Tensor>();
        Tensor h = x;
        using (no_grad())
            for (int i = 0; i < layers.Count; i++)
            {
                inputs.Add(h);
                Runtime.Seeding.SeedAll(seed + i);
                h = layers[i].Forward(h, attention);                                   // [b, s, d]
            }
        // cos/sin/mask belong to the caller's dispose scope: autograd keeps its own references to saved tensors.
        ctx.save_for_backward(attention.Mask is null ? [attention.Cos, attention.Sin] : [attention.Cos, attention.Sin, attention.Mask]);
        // The layer inputs are kept as our own references (not autograd's saved variables), so backward can
        // free each as soon as its layer is done instead of when the whole graph is freed.
        var kept = inputs.Select(t => t.alias().DetachFromDisposeScope()).ToList();
        ctx.save_data("inputs", kept);
        ctx.save_data("layers", layers);
        ctx.save_data("causal", attention.IsCausal);
        ctx.save_data("masked", attention.Mask is not null);
        ctx.save_data("seed", seed);
        return h.MoveToOuterDisposeScope();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        var layers = (IReadOnlyList<LlamaDecoderLayer>)ctx.get_data("layers");
        bool masked = (bool)ctx.get_data("masked");
        var attention = new AttentionContext(saved[0], saved[1], masked ? saved[2] : null, (bool)ctx.get_data("causal"), null);
        var inputs = (List<Tensor>)ctx.get_data("inputs");
        long seed = (long)ctx.get_data("seed");
        var grad = gradOutput;                                                          // d loss / d (output of layer i)
        for (int i = layers.Count - 1; i >= 0; i--)
        {
            using var scope = NewDisposeScope();
            var input = inputs[i].detach().requires_grad_(true);
            using (enable_grad())
            {
                Runtime.Seeding.SeedAll(seed + i);
                var y = layers[i].Forward(input, attention);
                var trainable = layers[i].parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
                autograd.backward([y], [grad], inputs: [input, .. trainable]);
                AutogradHandoff.Release();   // the gradients the layer's own custom functions returned
            }
            grad.Dispose();                  // the previous layer's gradient (or TorchSharp's grad-output wrapper)
            grad = input.grad!.DetachFromDisposeScope();
            inputs[i].Dispose();             // this layer's input is not needed again
        }
        inputs.Clear();
        AutogradHandoff.Dispose(saved);
        // one entry per argument of apply (x, layers, ctx, seed); null = no gradient
        return AutogradHandoff.Return(grad, null, null, null);
    }
}
