using System.Text.Json;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>What `finqlora merge` does: which base, which adapters, where to, in which dtype.</summary>
public sealed record MergeOptions(string ModelDir, IReadOnlyList<string> AdapterDirs, string OutputDir,
    ScalarType DType = ScalarType.BFloat16, bool RequantizeNf4 = false, long MaxShardBytes = HfModelFolder.DefaultMaxShardBytes, Device? Device = null);

/// <summary>What was written.</summary>
public sealed record MergeResult(string OutputDir, IReadOnlyList<string> WeightFiles, int MergedModules, bool BaseWasNf4);

/// <summary>
/// Folds LoRA adapters into the base weights and writes a plain Hugging Face folder:
/// W' = W + Σ scaling · B·A over the adapters, computed in fp32 and then cast to the output dtype.
/// Works one tensor at a time (the model is never built), so merging an 8B model needs about one
/// shard of memory. A 4-bit (bitsandbytes NF4) base is dequantized first; with RequantizeNf4 the
/// merged projections are quantized again and written in bitsandbytes' layout with its quantization_config.
/// (Merging into a model already loaded: LoraMerger.IntoModel.cs.)
/// </summary>
public static partial class LoraMerger
{
    public static MergeResult Merge(MergeOptions o)
    {
        if (o.AdapterDirs.Count == 0 && !o.RequantizeNf4) throw new FinQLoraException("merge needs at least one --adapter folder");
        if (o.DType is not (ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float32))
            throw new FinQLoraException($"--dtype {o.DType}: the merged model is written in bfloat16, float16 or float32");
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.OutputDir));
        if (output == Path.TrimEndingDirectorySeparator(Path.GetFullPath(o.ModelDir)))
            throw new FinQLoraException($"--output {o.OutputDir} is the base model's folder: choose a new folder");
        if (File.Exists(output) || Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new FinQLoraException($"--output {o.OutputDir} already exists and is not empty: choose a new folder or delete it");
        var device = o.Device ?? CPU;
        var config = LlamaConfig.Load(o.ModelDir);
        bool nf4Base = config.QuantizationConfig is not null;
        if (nf4Base) BnbQuantizationConfig.Parse(JsonSerializer.SerializeToElement(config.QuantizationConfig));

        var adapters = PeftAdapterWeights.ReadAll(o.AdapterDirs, config);
        try
        {
            int merged = 0;
            var files = HfModelFolder.Write(o.ModelDir, output, o.DType, o.RequantizeNf4, o.MaxShardBytes, writer =>
            {
                using var weights = ModelWeights.Open(o.ModelDir);
                CheckpointTensors.Check(config, weights, o.ModelDir);   // what score computes on this folder, or nothing
                var source = new CheckpointWeights(weights);
                foreach (var name in HfModelFolder.OrderedNames(weights.Names))
                {
                    using var scope = NewDisposeScope();
                    var module = name[..name.LastIndexOf('.')];
                    if (IsProjectionWeight(name))
                    {
                        var w = BaseWeight(module, source, device);                                  // [out, in] fp32
                        LlamaProjections.CheckShape(config, module, w.shape);
                        bool touched = false;
                        foreach (var a in adapters)
                            if (a.Delta(module, device) is { } delta) { w.add_(delta); touched = true; }
                        if (touched) merged++;
                        var cast = w.to(o.DType);
                        if (o.RequantizeNf4)
                        {
                            using var state = Nf4.Quantize(cast);
                            foreach (var (key, t) in BnbNf4Format.ToTensors(module, state)) writer.Add(key, t.clone().MoveToOuterDisposeScope());
                        }
                        else writer.Add(name, cast.MoveToOuterDisposeScope());
                    }
                    else if (IsQuantStateTensor(name)) continue;   // read with its projection's weight
                    else
                    {
                        var stored = SafeTensorDTypes.ToScalarType(weights.Info(name).DType);
                        bool isFloat = stored is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;
                        writer.Add(name, weights.Load(name, CPU, isFloat ? o.DType : null).MoveToOuterDisposeScope());
                    }
                }
                int expected = adapters.SelectMany(a => a.ByModule.Keys).Distinct().Count();
                if (merged != expected)
                    throw new FinQLoraException($"{o.ModelDir}: only {merged} of the {expected} projections the adapters change were found in the checkpoint");
            });
            return new MergeResult(output, files, merged, nf4Base);
        }
        finally
        {
            foreach (var a in adapters) a.Dispose();
        }
    }

    /// <summary>A projection's dense weight in fp32 on <paramref name="device"/>; a 4-bit one is dequantized.</summary>
    private static Tensor BaseWeight(string module, IWeightSource source, Device device)
    {
        if (!BnbNf4Format.IsQuantized(module, source.Contains)) return source.Load(module + ".weight", device, ScalarType.Float32);
        using var state = Nf4Projections.Load(module, source, device, ScalarType.Float32);
        return Nf4.Dequantize(state, ScalarType.Float32);
    }

    private static bool IsProjectionWeight(string name) =>
        name.StartsWith("model.layers.", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)
        && LlamaProjections.Names.Any(p => name.EndsWith($".{p}.weight", StringComparison.Ordinal));

    // bitsandbytes' companions of a 4-bit weight: P.weight.absmax, .quant_map, .nested_absmax, .nested_quant_map, .quant_state.bitsandbytes__nf4
    private static bool IsQuantStateTensor(string name) =>
        LlamaProjections.Names.Any(p => name.Contains($".{p}.weight.", StringComparison.Ordinal));
}
