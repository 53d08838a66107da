using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Loading;

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
    public static LlamaForCausalLM Load(string dir, ModelLoadOptions options) => Load(dir, LlamaConfig.Load(dir), options);

    /// <summary>The model in folder <paramref name="dir"/>, whose config.json the caller has read already.</summary>
    public static LlamaForCausalLM Load(string dir, LlamaConfig config, ModelLoadOptions options)
    {
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
            var (outF, inF) = LlamaProjections.Shape(c, path);
            var baseLayer = baseProjections(path, src);
            var shape = baseLayer switch
            {
                TorchSharp.Modules.Linear { weight: { } w } => w.shape,
                Nf4Linear q => [q.OutFeatures, q.InFeatures],
                _ => null,
            };
            if (shape is not null) LlamaProjections.CheckShape(c, path, shape);
            return new LoraLinear(baseLayer, inF, outF);
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

    public static ProjectionFactory ProjectionsFor(ModelLoadOptions o, LlamaConfig c)
    {
        // A checkpoint saved by transformers + bitsandbytes in 4 bits is read as NF4 whatever --quantize says.
        if (c.QuantizationConfig is { } qc)
        {
            BnbQuantizationConfig.Parse(System.Text.Json.JsonSerializer.SerializeToElement(qc));
            return Nf4(o);
        }
        return o.Quantize switch
        {
            "none" or "" => Dense(o),
            "nf4" => Nf4(o),
            _ => throw new FinQLoraException($"--quantize {o.Quantize}: unknown quantization (supported: none, nf4)"),
        };
    }

    /// <summary>4-bit projections: a checkpoint's NF4 weights as they are, dense ones quantized on the device (<see cref="Nf4Projections"/>).</summary>
    public static ProjectionFactory Nf4(ModelLoadOptions o, int blockSize = 64, bool doubleQuant = true) => (path, source) =>
        new Nf4Linear(Nf4Projections.Load(path, source, o.Device, o.DType, blockSize, doubleQuant), o.DType);

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
