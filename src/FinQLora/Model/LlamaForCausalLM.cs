using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Llama with its output head (transformers' LlamaForCausalLM): field names equal the Hugging Face
/// keys (model.layers.N.self_attn.q_proj ...), so state-dict names need no renaming.
/// Shapes: see Shapes.md in this folder.
/// </summary>
public sealed class LlamaForCausalLM : nn.Module
{
    public LlamaModel model;
    public nn.Module<Tensor, Tensor> lm_head;

    public LlamaConfig Config { get; }
    public ScalarType DType { get; }
    public Device Device { get; }

    public LlamaForCausalLM(LlamaConfig config, LlamaModel model, nn.Module<Tensor, Tensor> lmHead, ScalarType dtype, Device device) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        this.model = model;
        lm_head = lmHead;
        DType = dtype;
        Device = device;
        RegisterComponents();
    }

    /// <summary>Logits [b, s, v] in the compute dtype for ids [b, s] (no cache, causal, positions 0..s-1).</summary>
    public Tensor Logits(Tensor ids)
    {
        using var scope = NewDisposeScope();
        long b = ids.shape[0], s = ids.shape[1];
        var positions = arange(s, ScalarType.Int64, ids.device).unsqueeze(0).expand(b, s);
        var hidden = model.Forward(ids, positions, null, null);
        return lm_head.call(hidden).MoveToOuterDisposeScope();
    }

    public IEnumerable<LlamaDecoderLayer> Layers => model.layers;

    /// <summary>The output projection's weight [v, d] (the embedding table when tied), for the chunked loss.</summary>
    public Tensor HeadWeight => lm_head switch
    {
        TorchSharp.Modules.Linear linear => linear.weight!,
        TiedLmHead => model.embed_tokens.weight,
        _ => throw new InvalidOperationException($"unexpected lm_head type {lm_head.GetType().Name}"),
    };
}

/// <summary>The output head of a model with tied embeddings: logits = x · embed_tokens.weightᵀ.</summary>
public sealed class TiedLmHead : nn.Module<Tensor, Tensor>
{
    private readonly TokenEmbedding _embedding;   // not registered: the weight belongs to embed_tokens

    public TiedLmHead(TokenEmbedding embedding) : base(nameof(TiedLmHead)) => _embedding = embedding;

    public override Tensor forward(Tensor x) => nn.functional.linear(x, _embedding.weight);
}
