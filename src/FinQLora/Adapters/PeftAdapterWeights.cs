using FinQLora.IO;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>One projection's adapter weights: lora_A [r, in], lora_B [out, r] (fp32, CPU).</summary>
public sealed record LoraPair(Tensor A, Tensor B);

/// <summary>
/// A PEFT adapter folder read without a model (for merging): its settings and every projection's
/// lora_A/lora_B in fp32, each checked against the shapes that the base model's config.json implies.
/// Keys may carry PEFT's in-memory adapter level (".lora_A.default.weight") or not.
/// </summary>
public sealed class PeftAdapterWeights : IDisposable
{
    public string Name { get; }
    public string Dir { get; }
    public LoraSettings Settings { get; }
    public IReadOnlyDictionary<string, LoraPair> ByModule { get; }   // "model.layers.0.self_attn.q_proj" -> (A, B)

    private PeftAdapterWeights(string name, string dir, LoraSettings settings, Dictionary<string, LoraPair> byModule)
    {
        Name = name; Dir = dir; Settings = settings; ByModule = byModule;
    }

    /// <summary>The adapter's name: its folder's name.</summary>
    public static string NameOf(string dir) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir)));

    public static PeftAdapterWeights Read(string dir, LlamaConfig config)
    {
        var settings = PeftAdapterFiles.ReadSettings(dir).Validated(config.NumHiddenLayers);
        var weightsPath = Path.Combine(dir, PeftAdapterFiles.WeightsFile);
        if (!File.Exists(weightsPath)) throw new FinQLoraException($"{dir}: no {PeftAdapterFiles.WeightsFile} (is this a PEFT LoRA adapter folder?)");
        var valid = new HashSet<string>(Enumerable.Range(0, config.NumHiddenLayers).SelectMany(i => LlamaProjections.Names.Select(p =>
            $"model.layers.{i}.{(p is "gate_proj" or "up_proj" or "down_proj" ? "mlp" : "self_attn")}.{p}")));
        using var file = SafeTensorsFile.Open(weightsPath);
        var result = new Dictionary<string, LoraPair>();
        try
        {
            foreach (var name in file.Names)
            {
                var key = name.Replace(".lora_A.default.weight", ".lora_A.weight").Replace(".lora_B.default.weight", ".lora_B.weight");
                bool isA = key.EndsWith(".lora_A.weight", StringComparison.Ordinal);
                if (!isA && !key.EndsWith(".lora_B.weight", StringComparison.Ordinal))
                    throw new FinQLoraException($"{weightsPath}: tensor '{name}' is not a lora_A/lora_B weight (bias, modules_to_save or another PEFT method?); only plain LoRA adapters can be merged");
                if (!isA) continue;
                var modulePath = key[..^".lora_A.weight".Length];
                if (modulePath.StartsWith(PeftKeys.Prefix, StringComparison.Ordinal)) modulePath = modulePath[PeftKeys.Prefix.Length..];
                if (!valid.Contains(modulePath))
                    throw new FinQLoraException($"{weightsPath}: '{name}' targets '{modulePath}', which the base model does not have ({config.NumHiddenLayers} layers; projections {string.Join(", ", LlamaProjections.Names)}): the adapter was made for another model");
                var bName = name.Replace("lora_A", "lora_B");
                if (!file.Contains(bName)) throw new FinQLoraException($"{weightsPath}: '{name}' has no matching '{bName}'");
                if (!settings.Applies(modulePath)) continue;   // not named by target_modules / layers_to_transform / exclude_modules: PEFT never wraps it
                var (outF, inF) = LlamaProjections.Shape(config, modulePath);
                var ia = file.Info(name).Shape;
                var ib = file.Info(bName).Shape;
                if (ia.Length != 2 || ib.Length != 2 || ia[0] != settings.R || ia[1] != inF || ib[0] != outF || ib[1] != settings.R)
                    throw new FinQLoraException($"{weightsPath}: '{name}' is [{string.Join(", ", ia)}] and its lora_B [{string.Join(", ", ib)}], but the base model's '{modulePath}' " +
                                                $"needs lora_A [{settings.R}, {inF}] and lora_B [{outF}, {settings.R}] (r = {settings.R} from adapter_config.json): " +
                                                "the adapter was trained on a different base model; pass the --model it was made for");
                result[modulePath] = new LoraPair(file.Load(name, CPU, ScalarType.Float32), file.Load(bName, CPU, ScalarType.Float32));
            }
            foreach (var name in file.Names.Where(n => n.Contains(".lora_B.", StringComparison.Ordinal)))
                if (!file.Contains(name.Replace("lora_B", "lora_A")))
                    throw new FinQLoraException($"{weightsPath}: '{name}' has no matching lora_A weight");
            if (result.Count == 0) throw new FinQLoraException($"{weightsPath}: no lora_A/lora_B weights found");
        }
        catch
        {
            foreach (var p in result.Values) { p.A.Dispose(); p.B.Dispose(); }
            throw;
        }
        return new PeftAdapterWeights(NameOf(dir), dir, settings, result);
    }

    /// <summary>Reads several folders (the same folder twice is refused: its delta would count twice).</summary>
    public static IReadOnlyList<PeftAdapterWeights> ReadAll(IEnumerable<string> dirs, LlamaConfig config)
    {
        var list = new List<PeftAdapterWeights>();
        try
        {
            var all = dirs.ToList();
            UniqueNames(all);
            foreach (var dir in all) list.Add(Read(dir, config));
        }
        catch
        {
            foreach (var a in list) a.Dispose();
            throw;
        }
        return list;
    }

    /// <summary>
    /// A distinct adapter name per folder: the folder's name, or "PARENT-NAME" when an earlier folder has
    /// that name already (runs/stage1/adapter and runs/stage2/adapter become "adapter" and "stage2-adapter").
    /// The same folder given twice is an error.
    /// </summary>
    public static IReadOnlyList<string> UniqueNames(IReadOnlyList<string> dirs)
    {
        var names = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < dirs.Count; i++)
        {
            var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dirs[i]));
            var name = NameOf(full);
            int earlier = dirs.Take(i).Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))).ToList().IndexOf(full);
            if (earlier >= 0)
                throw new FinQLoraException($"two adapters are named '{name}': the folder {dirs[i]} is given twice; pass each adapter once");
            if (!seen.Add(name))
            {
                var parent = NameOf(Path.GetDirectoryName(full) ?? full);
                name = $"{parent}-{name}";
                for (int k = 2; !seen.Add(name); k++) name = $"{parent}-{NameOf(full)}-{k}";
            }
            names.Add(name);
        }
        return names;
    }

    /// <summary>scaling · B·A [out, in] in fp32 on <paramref name="device"/>, or null when this adapter leaves the module alone.</summary>
    public Tensor? Delta(string modulePath, Device device)
    {
        if (!ByModule.TryGetValue(modulePath, out var p)) return null;
        using var scope = NewDisposeScope();
        var delta = p.B.to(device).matmul(p.A.to(device)) * Settings.Scaling;   // [out, r] @ [r, in] -> [out, in]
        return delta.MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        foreach (var p in ByModule.Values) { p.A.Dispose(); p.B.Dispose(); }
    }
}
