using FinQLora.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>Attaches adapters to a model's projections and finds them again.</summary>
public static class LoraInjector
{
    /// <summary>Every projection of the model with its module path ("model.layers.3.self_attn.q_proj").</summary>
    public static IEnumerable<(string Path, LoraLinear Layer)> Projections(LlamaForCausalLM model)
    {
        int i = 0;
        foreach (var layer in model.Layers)
        {
            var a = layer.self_attn;
            var m = layer.mlp;
            foreach (var (name, module) in new (string, nn.Module<Tensor, Tensor>)[] { ("q_proj", a.q_proj), ("k_proj", a.k_proj), ("v_proj", a.v_proj),
                         ("o_proj", a.o_proj), ("gate_proj", m.gate_proj), ("up_proj", m.up_proj), ("down_proj", m.down_proj) })
            {
                string parent = name is "gate_proj" or "up_proj" or "down_proj" ? "mlp" : "self_attn";
                yield return ($"model.layers.{i}.{parent}.{name}", (LoraLinear)module);
            }
            i++;
        }
    }

    /// <summary>
    /// Adds a freshly initialised adapter (A kaiming-uniform with a = sqrt 5, i.e. U(±1/sqrt(in));
    /// B zeros; from a generator seeded with <paramref name="seed"/>) to each targeted projection.
    /// Returns the adapter's parameters by their PEFT file key, in a stable order.
    /// </summary>
    public static IReadOnlyList<(string Key, Parameter Param)> Inject(LlamaForCausalLM model, LoraSettings settings, string adapterName, bool trainable, long seed)
    {
        var s = settings.Validated(model.Config.NumHiddenLayers);
        var dtype = s.TrainableDType == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
        using var gen = new TorchSharp.torch.Generator((ulong)seed, CPU);
        var result = new List<(string, Parameter)>();
        foreach (var (path, layer) in Targeted(model, s))
        {
            double bound = 1.0 / Math.Sqrt(layer.InFeatures);
            var a = (rand([s.R, layer.InFeatures], ScalarType.Float32, CPU, generator: gen) * (2 * bound) - bound).to(dtype).to(model.Device);
            var b = zeros([layer.OutFeatures, s.R], dtype, model.Device);
            result.AddRange(Attach(layer, path, adapterName, a, b, s, trainable));
        }
        return result;
    }

    /// <summary>Attaches given A/B weights (e.g. loaded from a PEFT file) to one projection.</summary>
    public static IEnumerable<(string Key, Parameter Param)> Attach(LoraLinear layer, string path, string adapterName, Tensor a, Tensor b, LoraSettings s, bool trainable)
    {
        if (a.dtype == ScalarType.Float16 && Math.Abs(s.Scaling) > 65504)
            throw new FinQLoraException($"adapter '{adapterName}': its scaling {s.Scaling:G6} (lora_alpha / r) is infinite in float16 (largest 65504): use --dtype bfloat16 or float32");
        var adapter = new LoraAdapter
        {
            Name = adapterName, Scaling = s.Scaling, Dropout = s.Dropout,
            A = new Parameter(a, requires_grad: trainable), B = new Parameter(b, requires_grad: trainable),
        };
        layer.Add(adapter);
        return [(PeftKeys.A(path), adapter.A), (PeftKeys.B(path), adapter.B)];
    }

    public static IEnumerable<(string Path, LoraLinear Layer)> Targeted(LlamaForCausalLM model, LoraSettings s) =>
        Projections(model).Where(p => s.Applies(p.Path));

    public static int LayerIndex(string path) => int.Parse(path.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>All trainable adapter parameters of the model.</summary>
    public static IReadOnlyList<Parameter> TrainableParameters(LlamaForCausalLM model) =>
        Projections(model).SelectMany(p => p.Layer.Adapters).Where(a => a.Trainable).SelectMany(a => new[] { a.A, a.B }).ToList();
}

/// <summary>PEFT's file keys: "base_model.model." + module path + ".lora_A.weight".</summary>
public static class PeftKeys
{
    public const string Prefix = "base_model.model.";
    public static string A(string modulePath) => $"{Prefix}{modulePath}.lora_A.weight";
    public static string B(string modulePath) => $"{Prefix}{modulePath}.lora_B.weight";
}
