using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>Pre-norm residual block: x + attn(norm(x)), then + mlp(norm(.)).</summary>
public sealed class LlamaDecoderLayer : nn.Module
{
    public LlamaAttention self_attn;
    public LlamaMlp mlp;
    public RmsNorm input_layernorm, post_attention_layernorm;

    public LlamaDecoderLayer(LlamaAttention attention, LlamaMlp mlp, RmsNorm inputNorm, RmsNorm postNorm) : base(nameof(LlamaDecoderLayer))
    {
        self_attn = attention;
        this.mlp = mlp;
        input_layernorm = inputNorm;
        post_attention_layernorm = postNorm;
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, AttentionContext ctx)
    {
        using var scope = NewDisposeScope();
        var h = x + self_attn.Forward(input_layernorm.call(x), ctx);
        var y = h + mlp.call(post_attention_layernorm.call(h));
        return y.MoveToOuterDisposeScope();
    }
}
