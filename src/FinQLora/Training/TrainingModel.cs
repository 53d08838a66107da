using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Distributed;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>What a stage trains: every weight (training.method full) or a LoRA adapter, and an earlier adapter it started from.</summary>
/// <param name="Parameters">the trainable tensors by state-dict name (the names trainable.safetensors uses)</param>
/// <param name="InitBase">how init_adapter was applied, or null without one</param>
public sealed record TrainableSet(IReadOnlyList<(string Name, Parameter Param)> Parameters, LoraSettings Lora, InitAdapterBase? InitBase);

/// <summary>
/// The recipe's model setup: the model loaded on its device in its dtype (an NF4 base for QLoRA), then
/// <see cref="Attach"/>: an earlier adapter stacked or merged (init_adapter) or trained further (continue), and the trainable part made trainable.
/// </summary>
public sealed class TrainingModel : IDisposable
{
    public const string AdapterName = "default";
    public const string InitAdapterName = "init";

    public ModelBundle Bundle { get; }
    public LlamaForCausalLM Model => Bundle.Model;
    public Device Device { get; }
    /// <summary>The model folder (or random:SHAPE) the weights came from; adapters name it as their base.</summary>
    public string ModelDir { get; }

    private TrainingModel(ModelBundle bundle, Device device, string modelDir) => (Bundle, Device, ModelDir) = (bundle, device, modelDir);

    public static TrainingModel Load(TrainConfig cfg, DistributedContext dist, Action<string> log)
    {
        var t = cfg.Training;
        // a launched rank sees only its own GPU (CUDA_VISIBLE_DEVICES), as cuda:0
        var device = dist.WorldSize > 1
            ? new Device(TorchSharp.DeviceType.CUDA, Runtime.EnvironmentSettings.Current.OneGpuPerProcess ? 0 : dist.LocalRank)
            : DeviceSpec.Parse(cfg.Model.Device);
        var dtype = DeviceSpec.ParseDType(cfg.Model.Dtype);
        string quantize = t.Method == TrainingMethod.Qlora || cfg.Model.Quantize == Quantize.Nf4 ? "nf4" : "none";
        if (t.Method == TrainingMethod.Full && quantize == "nf4") throw new FinQLoraException("training.method full cannot train an NF4-quantized base; set model.quantize: none");
        var modelDir = TinyModel.Resolve(cfg.Model.Path, log);
        log($"[{cfg.Stage}] loading {modelDir} ({dtype}, {quantize}, {device}){(dist.WorldSize > 1 ? $", rank {dist.Rank}/{dist.WorldSize}" : "")}");
        var bundle = ModelBundle.Load(modelDir, new ModelLoadOptions(device, dtype, quantize));
        // fp32 matmuls (LoRA's fp32 adapters) on TF32 tensor cores, as the transformers+PEFT reference runs them (docs/PERFORMANCE.md)
        if (device.type == TorchSharp.DeviceType.CUDA) backends.cuda.matmul.allow_tf32 = true;
        return new TrainingModel(bundle, device, modelDir);
    }

    /// <summary>Applies <paramref name="initAdapter"/> (if any), then makes the trainable part trainable and the model train().</summary>
    public TrainableSet Attach(TrainConfig cfg, string? initAdapter, Action<string> log)
    {
        var t = cfg.Training;
        bool continuing = cfg.InitAdapterMode == InitAdapterMode.Continue;
        var initBase = initAdapter is null || continuing ? null : InitAdapter.Apply(Model, initAdapter, cfg.InitAdapterMode, ModelDir, InitAdapterName, m => log($"[{cfg.Stage}] {m}"));
        var lora = cfg.Lora.ToSettings().Validated(Model.Config.NumHiddenLayers);
        IReadOnlyList<(string Name, Parameter Param)> trainable;
        if (t.Method == TrainingMethod.Full)
        {
            trainable = Model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            foreach (var (_, p) in trainable) p.requires_grad_(true);
        }
        else if (continuing)
        {
            // continue: the init adapter itself is the trainable adapter (ContinueAdapter.Resolve gave cfg its shape)
            (lora, trainable) = ContinueAdapter.Attach(Model, cfg with { InitAdapter = initAdapter }, AdapterName);
            log($"[{cfg.Stage}] training {initAdapter} further (r {lora.R}, alpha {lora.Alpha}, {string.Join(",", lora.Targets)}{(lora.UseRslora ? ", rsLoRA" : "")})");
        }
        else
        {
            trainable = LoraInjector.Inject(Model, lora, AdapterName, trainable: true, seed: t.Seed);
        }
        Model.train();
        log($"[{cfg.Stage}] trainable params: {trainable.Sum(p => p.Param.NumberOfElements):N0} ({t.Method})");
        return new TrainableSet(trainable, lora, initBase);
    }

    public void Dispose() => Bundle.Dispose();
}
