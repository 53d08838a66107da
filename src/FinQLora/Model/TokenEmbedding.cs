using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>Token embedding table ([v, d]); also the output head's weight when the model ties them.</summary>
public sealed class TokenEmbedding : nn.Module<Tensor, Tensor>
{
    public Parameter weight;

    public TokenEmbedding(Tensor table) : base(nameof(TokenEmbedding))
    {
        weight = new Parameter(table, requires_grad: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        var flat = weight.index_select(0, ids.reshape(-1));                        // [b*s, d]
        return flat.view([.. ids.shape, weight.shape[1]]).MoveToOuterDisposeScope(); // [b, s, d]
    }
}
