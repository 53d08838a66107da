using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>The decoder stack: embed_tokens, layers, final norm (transformers' LlamaModel).</summary>
public sealed class LlamaModel : nn.Module
{
    public TokenEmbedding embed_tokens;
    public ModuleList<LlamaDecoderLayer> layers;
    public RmsNorm norm;
    private readonly RotaryEmbedding _rope;

    public LlamaModel(TokenEmbedding embedTokens, IEnumerable<LlamaDecoderLayer> decoderLayers, RmsNorm finalNorm, RotaryEmbedding rope) : base(nameof(LlamaModel))
    {
        embed_tokens = embedTokens;
        layers = new ModuleList<LlamaDecoderLayer>(decoderLayers.ToArray());
        norm = finalNorm;
        _rope = rope;
        RegisterComponents();
    }

    public RotaryEmbedding Rope => _rope;

    /// <summary>
    /// ids, positionIds: [b, s]; mask: [b, 1, s, t] or null (then causal when there is no cache).
    /// <paramref name="runLayers"/> lets the trainer run the layer stack itself (gradient checkpointing).
    /// Returns the final hidden states [b, s, d].
    /// </summary>
    public Tensor Forward(Tensor ids, Tensor positionIds, Tensor? mask, IKvCache? cache,
        Func<IReadOnlyList<LlamaDecoderLayer>, Tensor, AttentionContext, Tensor>? runLayers = null)
    {
        using var scope = NewDisposeScope();
        var x = embed_tokens.call(ids);                                    // [b, s, d]
        var (cos, sin) = _rope.Compute(positionIds, x.dtype);             // [b, s, d_h]
        var ctx = new AttentionContext(cos, sin, mask, IsCausal: mask is null && (cache is null || cache.IsEmpty), cache);
        if (runLayers is not null) x = runLayers(layers.ToList(), x, ctx);
        else
            foreach (var layer in layers)
                x = layer.Forward(x, ctx);
        cache?.Advance((int)ids.shape[1]);
        return norm.call(x).MoveToOuterDisposeScope();
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) _rope.Dispose();
        base.Dispose(disposing);
    }
}
