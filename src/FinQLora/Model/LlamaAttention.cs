using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Grouped-query self-attention. The four projections are given (Linear, Nf4Linear or a LoRA
/// wrapper, chosen by <c>Loading.LlamaBuilder</c>); attention runs through scaled_dot_product_attention.
/// </summary>
public sealed class LlamaAttention : nn.Module
{
    private readonly int _heads, _kvHeads, _headDim, _layer;
    public nn.Module<Tensor, Tensor> q_proj, k_proj, v_proj, o_proj;

    public LlamaAttention(int layer, LlamaConfig config, nn.Module<Tensor, Tensor> q, nn.Module<Tensor, Tensor> k,
        nn.Module<Tensor, Tensor> v, nn.Module<Tensor, Tensor> o) : base(nameof(LlamaAttention))
    {
        _layer = layer;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        q_proj = q; k_proj = k; v_proj = v; o_proj = o;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        long b = x.shape[0], s = x.shape[1];
        var cast = SharedInput.Cast(x, q_proj, k_proj, v_proj);   // LoRA's fp32 input, once for q, k and v
        var q = RotaryEmbedding.ApplyToHeads(SharedInput.Call(q_proj, x, cast).view(b, s, _heads, _headDim), ctx.Cos, ctx.Sin).transpose(1, 2);     // [b, h, s, d_h]
        var k = RotaryEmbedding.ApplyToHeads(SharedInput.Call(k_proj, x, cast).view(b, s, _kvHeads, _headDim), ctx.Cos, ctx.Sin).transpose(1, 2);   // [b, h_kv, s, d_h]
        var v = SharedInput.Call(v_proj, x, cast).view(b, s, _kvHeads, _headDim).transpose(1, 2);                                                    // [b, h_kv, s, d_h]
        if (ctx.Cache is not null) (k, v) = ctx.Cache.Append(_layer, k, v);     // [b, h_kv, t, d_h]
        k = RepeatKv(k);                                                          // [b, h, t, d_h]
        v = RepeatKv(v);
        var attn = nn.functional.scaled_dot_product_attention(q, k, v, ctx.Mask, 0.0, ctx.IsCausal && ctx.Mask is null);
        var merged = attn.transpose(1, 2).reshape(b, s, _heads * _headDim);     // [b, s, h*d_h]
        return o_proj.call(merged).MoveToOuterDisposeScope();
    }

    /// <summary>[b, h_kv, t, d_h] → [b, h, t, d_h]: KV head j serves query heads j*n_rep .. j*n_rep+n_rep-1.</summary>
    private Tensor RepeatKv(Tensor kv)
    {
        int nRep = _heads / _kvHeads;
        if (nRep == 1) return kv;
        long b = kv.shape[0], t = kv.shape[2];
        return kv.unsqueeze(2).expand(b, _kvHeads, nRep, t, _headDim).reshape(b, _heads, t, _headDim);
    }
}
