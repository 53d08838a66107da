using FinQLora.IO;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>How to materialise a model: where, in which compute dtype, and whether to quantize the projections.</summary>
public sealed record ModelLoadOptions(Device Device, ScalarType DType, string Quantize = "none", long Seed = 0);

/// <summary>Builds one projection (q_proj … down_proj) given its module path, e.g. "model.layers.3.mlp.up_proj".</summary>
public delegate nn.Module<Tensor, Tensor> ProjectionFactory(string modulePath, IWeightSource source);

/// <summary>
/// The one place that decides which linear goes where: dense Linear, or a quantized one; LoRA
/// wrappers are added afterwards by the adapter code. Layers are built one at a time, each weight
/// loaded straight onto the target device, so no second copy of the model ever exists.
/// </summary>
public static class LlamaBuilder
{
    public static readonly string[] ProjectionNames = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    public static LlamaForCausalLM Load(string dir, ModelLoadOptions options)
    {
        var config = LlamaConfig.Load(dir);
        var weights = ModelWeights.Open(dir);
        try
        {
            CheckpointTensors.Check(config, weights, dir);
            return Build(config, new CheckpointWeights(weights), options);
        }
        finally
        {
            weights.Dispose();
        }
    }

    public static LlamaForCausalLM Random(LlamaConfig config, ModelLoadOptions options, double std = 0.02) =>
        Build(config, new RandomWeights(config, options.Seed, std), options);

    public static LlamaForCausalLM Build(LlamaConfig c, IWeightSource source, ModelLoadOptions o, ProjectionFactory? baseProjections = null)
    {
        baseProjections ??= ProjectionsFor(o, c);
        // Every projection is a LoraLinear around its base, with no adapter until one is attached.
        ProjectionFactory projections = (path, src) =>
        {
            var (outF, inF) = ProjectionShape(c, path);
            var baseLayer = baseProjections(path, src);
            var shape = baseLayer switch
            {
                TorchSharp.Modules.Linear { weight: { } w } => w.shape,
                Quantization.Nf4Linear q => [q.OutFeatures, q.InFeatures],
                _ => null,
            };
            if (shape is not null) CheckProjectionShape(c, path, shape);
            return new Adapters.LoraLinear(baseLayer, inF, outF);
        };
        var dev = o.Device;
        var embed = new TokenEmbedding(source.Load("model.embed_tokens.weight", dev, o.DType));
        var layers = new List<LlamaDecoderLayer>();
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}";
            var attn = new LlamaAttention(i, c,
                projections($"{p}.self_attn.q_proj", source), projections($"{p}.self_attn.k_proj", source),
                projections($"{p}.self_attn.v_proj", source), projections($"{p}.self_attn.o_proj", source));
            var mlp = new LlamaMlp(projections($"{p}.mlp.gate_proj", source), projections($"{p}.mlp.up_proj", source),
                projections($"{p}.mlp.down_proj", source));
            layers.Add(new LlamaDecoderLayer(attn, mlp, Norm(c, source, $"{p}.input_layernorm.weight", o), Norm(c, source, $"{p}.post_attention_layernorm.weight", o)));
        }
        var model = new LlamaModel(embed, layers, Norm(c, source, "model.norm.weight", o), new RotaryEmbedding(c.HeadDim, c.Rope, dev));
        nn.Module<Tensor, Tensor> head = c.TieWordEmbeddings || !source.Contains("lm_head.weight")
            ? new TiedLmHead(embed)
            : nn.Linear(new Parameter(source.Load("lm_head.weight", dev, o.DType), requires_grad: false), null);
        return new LlamaForCausalLM(c, model, head, o.DType, dev);
    }

    /// <summary>Refuses a projection weight (dense, or a 4-bit one's quant-state shape) whose shape is not what config.json implies.</summary>
    public static void CheckProjectionShape(LlamaConfig c, string path, long[] shape)
    {
        var (outF, inF) = ProjectionShape(c, path);
        if (shape.Length != 2 || shape[0] != outF || shape[1] != inF)
            throw new FinQLoraException($"weight '{path}.weight' has shape [{string.Join(", ", shape)}], expected [{outF}, {inF}] from config.json");
    }

    /// <summary>[out, in] of a projection from its module path.</summary>
    public static (long Out, long In) ProjectionShape(LlamaConfig c, string path)
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

    public static ProjectionFactory ProjectionsFor(ModelLoadOptions o, LlamaConfig c)
    {
        // A checkpoint saved by transformers + bitsandbytes in 4 bits is read as NF4 whatever --quantize says.
        if (c.QuantizationConfig is { } qc)
        {
            Quantization.BnbQuantizationConfig.Parse(System.Text.Json.JsonSerializer.SerializeToElement(qc));
            return Quantization.Nf4Projections.Create(o);
        }
        return o.Quantize switch
        {
            "none" or "" => Dense(o),
            "nf4" => Quantization.Nf4Projections.Create(o),
            _ => throw new FinQLoraException($"--quantize {o.Quantize}: unknown quantization (supported: none, nf4)"),
        };
    }

    public static ProjectionFactory Dense(ModelLoadOptions o) => (path, source) =>
    {
        var w = source.Load(path + ".weight", o.Device, o.DType);
        return nn.Linear(new Parameter(w, requires_grad: false), null);
    };

    private static RmsNorm Norm(LlamaConfig c, IWeightSource source, string name, ModelLoadOptions o)
    {
        var norm = new RmsNorm(c.HiddenSize, c.RmsNormEps, o.DType, o.Device);
        using (no_grad())
        {
            using var w = source.Load(name, o.Device, o.DType);
            if (w.shape.Length != 1 || w.shape[0] != c.HiddenSize)
                throw new FinQLoraException($"weight '{name}' has shape [{string.Join(", ", w.shape)}], expected [{c.HiddenSize}]");
            norm.weight.copy_(w);
        }
        return norm;
    }
}
