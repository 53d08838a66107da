namespace FinQLora.Model;

/// <summary>The seven projections of a Llama decoder layer, by their Hugging Face module names, and their shapes.</summary>
public static class LlamaProjections
{
    public static readonly string[] Names = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>[out, in] of a projection from its module path (e.g. "model.layers.3.mlp.up_proj").</summary>
    public static (long Out, long In) Shape(LlamaConfig c, string path)
    {
        long q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        return path[(path.LastIndexOf('.') + 1)..] switch
        {
            "q_proj" => (q, c.HiddenSize),
            "k_proj" or "v_proj" => (kv, c.HiddenSize),
            "o_proj" => (c.HiddenSize, q),
            "gate_proj" or "up_proj" => (c.IntermediateSize, c.HiddenSize),
            "down_proj" => (c.HiddenSize, c.IntermediateSize),
            _ => throw new ArgumentException($"not a projection: {path}"),
        };
    }

    /// <summary>Refuses a projection weight (dense, or a 4-bit one's quant-state shape) whose shape is not what config.json implies.</summary>
    public static void CheckShape(LlamaConfig c, string path, long[] shape)
    {
        var (outF, inF) = Shape(c, path);
        if (shape.Length != 2 || shape[0] != outF || shape[1] != inF)
            throw new FinQLoraException($"weight '{path}.weight' has shape [{string.Join(", ", shape)}], expected [{outF}, {inF}] from config.json");
    }
}
