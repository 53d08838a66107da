using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.IO;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>
/// PEFT's adapter folder: adapter_config.json and adapter_model.safetensors with keys
/// "base_model.model.&lt;module path&gt;.lora_A.weight" / ".lora_B.weight". Folders saved here load
/// with peft.PeftModel.from_pretrained, and folders saved by PEFT load here.
/// </summary>
public static class PeftAdapterFiles
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";

    public static void Save(string dir, LlamaForCausalLM model, string adapterName, LoraSettings settings, string baseModelPath)
    {
        Directory.CreateDirectory(dir);
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (path, layer) in LoraInjector.Projections(model))
            foreach (var a in layer.Adapters.Where(a => a.Name == adapterName))
            {
                tensors[PeftKeys.A(path)] = a.A;
                tensors[PeftKeys.B(path)] = a.B;
            }
        if (tensors.Count == 0) throw new FinQLoraException($"no adapter named '{adapterName}' is attached to the model");
        SafeTensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        var config = new JsonObject
        {
            ["peft_type"] = "LORA", ["task_type"] = "CAUSAL_LM", ["base_model_name_or_path"] = baseModelPath,
            ["r"] = settings.R, ["lora_alpha"] = settings.Alpha, ["lora_dropout"] = settings.Dropout,
            ["target_modules"] = new JsonArray(settings.Targets.Select(t => (JsonNode)t).ToArray()),
            ["use_rslora"] = settings.UseRslora, ["bias"] = "none", ["fan_in_fan_out"] = false, ["inference_mode"] = true,
            ["init_lora_weights"] = true, ["layers_to_transform"] = settings.Layers is null ? null : new JsonArray(settings.Layers.Select(l => (JsonNode)l).ToArray()),
            ["layers_pattern"] = null, ["modules_to_save"] = null, ["revision"] = null, ["use_dora"] = false,
            ["rank_pattern"] = new JsonObject(), ["alpha_pattern"] = new JsonObject(), ["auto_mapping"] = null,
        };
        AtomicFile.WriteAllText(Path.Combine(dir, ConfigFile), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Reads and validates adapter_config.json.</summary>
    public static LoraSettings ReadSettings(string dir)
    {
        var path = Path.Combine(dir, ConfigFile);
        if (!File.Exists(path))
        {
            if (File.Exists(Path.Combine(dir, "adapter_model.bin")))
                throw new FinQLoraException($"{dir}: only adapter_model.bin (a PyTorch pickle) and no {ConfigFile}; FinQLora never loads pickles");
            throw new FinQLoraException($"{dir}: no {ConfigFile} (is this a PEFT LoRA adapter folder?)");
        }
        var o = JsonFile.ReadObject(path);
        string Short(JsonNode? n) => n is null ? "null" : n.ToJsonString() is var s && s.Length > 60 ? s[..60] + "…" : n.ToJsonString();
        FinQLoraException Bad(string key, string want) => new($"{path}: '{key}' must be {want}, got {Short(o[key])}");
        var peftType = JsonFile.String(o["peft_type"]) ?? throw Bad("peft_type", "a string");
        if (peftType != "LORA") throw new FinQLoraException($"{path}: peft_type '{peftType}' is not supported (only LORA)");
        if (JsonFile.Bool(o["use_dora"]) == true) throw new FinQLoraException($"{path}: DoRA adapters are not supported");
        if (o["rank_pattern"] is JsonObject rp && rp.Count > 0 || o["alpha_pattern"] is JsonObject ap && ap.Count > 0)
            throw new FinQLoraException($"{path}: rank_pattern/alpha_pattern are not supported");
        if (JsonFile.String(o["bias"]) is { } bias && bias != "none")
            throw new FinQLoraException($"{path}: bias '{bias}' is not supported (only LoRA adapters saved with bias \"none\")");
        if (o["modules_to_save"] is JsonArray mts && mts.Count > 0)
            throw new FinQLoraException($"{path}: modules_to_save {Short(mts)} is not supported (only the LoRA weights of the projections are loaded)");
        // PEFT options that change what the adapter computes; FinQLora implements none of them, so an adapter using one is refused, not half-applied
        foreach (var key in new[] { "alora_invocation_tokens", "layer_replication", "trainable_token_indices", "target_parameters", "megatron_config",
                                        "arrow_config", "kasa_config", "monteclora_config" })
            if (o[key] is { } v && !(v is JsonArray { Count: 0 } || v is JsonObject { Count: 0 }))
                throw new FinQLoraException($"{path}: '{key}' {Short(v)} is not supported (it changes what the adapter computes; FinQLora loads plain LoRA only)");
        foreach (var key in new[] { "use_qalora", "use_dora", "lora_bias", "fan_in_fan_out" })
            if (o[key] is { } v && JsonFile.Bool(v) != false)
                throw new FinQLoraException($"{path}: '{key}' {Short(v)} is not supported (it changes what the adapter computes; FinQLora loads plain LoRA only)");
        if (JsonFile.String(o["layers_pattern"]) is { } lp && lp != "layers" || o["layers_pattern"] is JsonArray { Count: > 0 } lpa && !(lpa.Count == 1 && JsonFile.String(lpa[0]) == "layers"))
            throw new FinQLoraException($"{path}: 'layers_pattern' {Short(o["layers_pattern"])} is not supported (Llama's layers are 'layers')");
        var exclude = o["exclude_modules"] switch
        {
            null => null,
            JsonArray arr => arr.Select(x => JsonFile.String(x) ?? throw Bad("exclude_modules", "a list of module names")).ToList(),
            _ => throw Bad("exclude_modules", "a list of module names (a regular expression is not supported)"),
        };
        var targets = o["target_modules"] switch
        {
            JsonArray arr => arr.Select(x => JsonFile.String(x) ?? throw Bad("target_modules", "a list of module names")).ToList(),
            var n when JsonFile.String(n) is { } single => [single],
            null => throw new FinQLoraException($"{path}: required field 'target_modules' is missing"),
            _ => throw Bad("target_modules", "a module name or a list of them"),
        };
        var layers = o["layers_to_transform"] switch
        {
            null => null,
            JsonArray arr => arr.Select(x => JsonFile.Int(x) ?? throw Bad("layers_to_transform", "a list of layer numbers")).ToList(),
            var n when JsonFile.Int(n) is { } one => new List<int> { one },
            _ => throw Bad("layers_to_transform", "a layer number or a list of them"),
        };
        double dropout = o["lora_dropout"] is null ? 0 : JsonFile.Number(o["lora_dropout"]) ?? throw Bad("lora_dropout", "a number");
        bool rslora = o["use_rslora"] is not null && (JsonFile.Bool(o["use_rslora"]) ?? throw Bad("use_rslora", "true or false"));
        int r = JsonFile.Int(o["r"]) ?? throw new FinQLoraException($"{path}: required field 'r' is missing or not an integer");
        double alpha = JsonFile.Number(o["lora_alpha"]) ?? throw new FinQLoraException($"{path}: required field 'lora_alpha' is missing or not a number");
        return new LoraSettings(r, alpha, dropout, targets, rslora, layers, Exclude: exclude);
    }

    /// <summary>
    /// Loads an adapter folder onto the model under <paramref name="adapterName"/> (frozen unless <paramref name="trainable"/>);
    /// <paramref name="dropout"/> replaces the file's lora_dropout (training it further with another dropout).
    /// </summary>
    public static (LoraSettings Settings, IReadOnlyList<(string Key, TorchSharp.Modules.Parameter Param)> Params) Load(
        string dir, LlamaForCausalLM model, string adapterName, bool trainable = false, ScalarType? dtype = null, double? dropout = null)
    {
        var settings = ReadSettings(dir).Validated(model.Config.NumHiddenLayers);
        if (dropout is { } d) settings = settings with { Dropout = d };
        var weightsPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(weightsPath))
            throw new FinQLoraException(File.Exists(Path.Combine(dir, "adapter_model.bin"))
                ? $"{dir}: adapter_model.bin is a PyTorch pickle, which FinQLora never loads; convert it to {WeightsFile} first (in Python: PeftModel.from_pretrained(base, dir).save_pretrained(out, safe_serialization=True))"
                : $"{dir}: no {WeightsFile}");
        using var file = SafeTensorsFile.Open(weightsPath);
        var byPath = LoraInjector.Projections(model).ToDictionary(p => p.Path, p => p.Layer);
        var used = new HashSet<string>();
        var result = new List<(string, TorchSharp.Modules.Parameter)>();
        foreach (var name in file.Names)
        {
            var key = name.Replace(".lora_A.default.weight", ".lora_A.weight").Replace(".lora_B.default.weight", ".lora_B.weight");
            if (!key.EndsWith(".lora_A.weight", StringComparison.Ordinal))
            {
                if (key.EndsWith(".lora_B.weight", StringComparison.Ordinal))
                {
                    if (!file.Contains(name.Replace("lora_B", "lora_A"))) throw new FinQLoraException($"{weightsPath}: '{name}' has no matching lora_A weight");
                    continue;
                }
                throw new FinQLoraException($"{weightsPath}: tensor '{name}' is not a lora_A/lora_B weight (bias, modules_to_save, embeddings or another PEFT method?); only plain LoRA adapters on the projections are supported");
            }
            var modulePath = key[..^".lora_A.weight".Length];
            if (modulePath.StartsWith(PeftKeys.Prefix, StringComparison.Ordinal)) modulePath = modulePath[PeftKeys.Prefix.Length..];
            if (!byPath.TryGetValue(modulePath, out var layer))
                throw new FinQLoraException($"{weightsPath}: '{name}' targets '{modulePath}', which this model does not have (adapter made for another architecture?)");
            if (!settings.Applies(modulePath)) continue;   // not named by target_modules / layers_to_transform / exclude_modules: PEFT never wraps it
            var bName = name.Replace("lora_A", "lora_B");
            if (!file.Contains(bName)) throw new FinQLoraException($"{weightsPath}: '{name}' has no matching '{bName}'");
            var ia = file.Info(name);
            var ib = file.Info(bName);
            if (ia.Shape.Length != 2 || ib.Shape.Length != 2 || ia.Shape[1] != layer.InFeatures || ib.Shape[0] != layer.OutFeatures || ia.Shape[0] != ib.Shape[1] || ia.Shape[0] != settings.R)
                throw new FinQLoraException($"{weightsPath}: '{name}' [{string.Join(", ", ia.Shape)}] / lora_B [{string.Join(", ", ib.Shape)}] do not fit '{modulePath}' " +
                                            $"(lora_A must be [{settings.R}, {layer.InFeatures}], lora_B [{layer.OutFeatures}, {settings.R}], r = {settings.R}): the adapter was made for a different base model; pass the --model it was trained on");
            var loadDtype = dtype ?? (trainable ? ScalarType.Float32 : model.DType == ScalarType.Float32 ? ScalarType.Float32 : SafeTensorDTypes.ToScalarType(ia.DType));
            result.AddRange(LoraInjector.Attach(layer, modulePath, adapterName, file.Load(name, model.Device, loadDtype), file.Load(bName, model.Device, loadDtype), settings, trainable));
            used.Add(modulePath);
        }
        if (used.Count == 0) throw new FinQLoraException($"{weightsPath}: no lora_A/lora_B weights found");
        return (settings, result);
    }

    /// <summary>
    /// Attaches several adapter folders, frozen (stacked: their deltas add), named after their folders
    /// (see <see cref="PeftAdapterWeights.UniqueNames"/>). Returns the names.
    /// </summary>
    public static IReadOnlyList<string> AttachAll(LlamaForCausalLM model, IEnumerable<string> dirs)
    {
        var all = dirs.ToList();
        var names = PeftAdapterWeights.UniqueNames(all);
        for (int i = 0; i < all.Count; i++) Load(all[i], model, names[i]);
        return names;
    }
}
