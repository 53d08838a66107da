using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>
/// <c>init_adapter_mode: continue</c>: the adapter in init_adapter (any PEFT LoRA folder) is itself the trainable
/// adapter, loaded with its weights and trained further, then saved and resumed like any run's adapter. Its shape
/// (r, alpha, target modules, rsLoRA, layers) comes from its adapter_config.json; the stage's <c>lora:</c> section may set
/// only what does not change the adapter's shape (dropout, trainable_dtype). A shape key set to another value than the
/// file's is refused, naming both; a key left at its default takes the file's value.
/// </summary>
public static class ContinueAdapter
{
    /// <summary>The config with its lora shape keys taken from the init adapter's adapter_config.json (unchanged for other modes).</summary>
    public static TrainConfig Resolve(TrainConfig cfg)
    {
        if (cfg.InitAdapterMode != InitAdapterMode.Continue || cfg.InitAdapter is not { } dir) return cfg;
        var file = PeftAdapterFiles.ReadSettings(dir);
        var fileTargets = LoraSettings.ExpandTargets(file.Targets);
        var set = cfg.Lora;
        var defaults = new LoraSection();
        var conflicts = new List<string>();
        void Check(string key, string now, string byDefault, string inFile)
        {
            // a key at its default value was not chosen for this stage: the file's value is taken
            if (now != byDefault && now != inFile) conflicts.Add($"lora.{key} is {now} but the adapter has {inFile}");
        }
        static string List<T>(IEnumerable<T>? xs) => xs is null ? "all layers" : "[" + string.Join(", ", xs) + "]";
        Check("r", set.R.ToString(System.Globalization.CultureInfo.InvariantCulture), defaults.R.ToString(System.Globalization.CultureInfo.InvariantCulture), file.R.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Check("alpha", Num(set.Alpha), Num(defaults.Alpha), Num(file.Alpha));
        Check("targets", List(LoraSettings.ExpandTargets(set.Targets)), List(LoraSettings.ExpandTargets(defaults.Targets)), List(fileTargets));
        Check("rslora", set.Rslora ? "true" : "false", defaults.Rslora ? "true" : "false", file.UseRslora ? "true" : "false");
        Check("layers", List(set.Layers?.Order()), List(defaults.Layers?.Order()), List(file.Layers?.Order()));
        if (conflicts.Count > 0)
            throw new FinQLoraException($"init_adapter_mode: continue trains {dir} itself, so its shape comes from {Path.Combine(dir, PeftAdapterFiles.ConfigFile)}: " +
                $"{string.Join("; ", conflicts)}. Remove these keys from the lora: section (or set them to the adapter's values); only lora.dropout and lora.trainable_dtype may differ.", exitCode: 2);
        return cfg with { Lora = set with { R = file.R, Alpha = file.Alpha, Targets = fileTargets, Rslora = file.UseRslora, Layers = file.Layers?.Order().ToList() } };
    }

    /// <summary>
    /// Attaches the (resolved) stage's init adapter to the model as its trainable adapter <paramref name="adapterName"/>:
    /// its weights in lora.trainable_dtype, trained with lora.dropout. Returns the settings to save it with and its parameters by PEFT key.
    /// </summary>
    public static (LoraSettings Settings, IReadOnlyList<(string Key, Parameter Param)> Params) Attach(LlamaForCausalLM model, TrainConfig cfg, string adapterName)
    {
        var dir = cfg.InitAdapter ?? throw new ArgumentException("init_adapter_mode: continue needs init_adapter", nameof(cfg));
        var dtype = cfg.Lora.TrainableDtype == "bfloat16" ? ScalarType.BFloat16 : ScalarType.Float32;
        var (settings, parameters) = PeftAdapterFiles.Load(dir, model, adapterName, trainable: true, dtype, cfg.Lora.Dropout);
        return (settings with { TrainableDType = cfg.Lora.TrainableDtype }, parameters);
    }

    private static string Num(double x) => x.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
