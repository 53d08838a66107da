using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>
/// Writes a Hugging Face model folder that transformers' from_pretrained and every FinQLora command load: the
/// weights (one model.safetensors, or shards + model.safetensors.index.json, by <see cref="ShardedCheckpointWriter"/>),
/// config.json (the base's, with the written dtype, and bitsandbytes' quantization_config for NF4 weights) and the
/// base folder's tokenizer, chat template and generation_config files. The folder appears whole or not at all: it
/// is written beside the target under a temporary name and renamed at the end. `finqlora merge` and full
/// fine-tuning (training.method: full) both write through here.
/// </summary>
public static class HfModelFolder
{
    /// <summary>Files besides the weights that a Hugging Face folder carries and a written folder keeps.</summary>
    public static readonly string[] CopiedFiles =
        ["tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
         "chat_template.json", "generation_config.json", "LICENSE", "USE_POLICY.md"];

    /// <summary>
    /// Writes <paramref name="outputDir"/> (replacing a folder already there) from the base folder <paramref name="baseDir"/>'s config and
    /// files and the tensors <paramref name="writeWeights"/> adds. Returns the weight files written.
    /// </summary>
    public static IReadOnlyList<string> Write(string baseDir, string outputDir, ScalarType dtype, bool nf4, long maxShardBytes,
        Action<ShardedCheckpointWriter> writeWeights)
    {
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDir));
        AtomicFile.RemoveOrphans(output);   // folders of writes that were killed (up to a model's size each)
        var temp = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.tmp-{Environment.ProcessId}");
        try
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            IReadOnlyList<string> files;
            using (var writer = new ShardedCheckpointWriter(temp, maxShardBytes))
            {
                writeWeights(writer);
                files = writer.Finish();
            }
            WriteConfig(baseDir, temp, dtype, nf4);
            foreach (var f in CopiedFiles.Where(f => File.Exists(Path.Combine(baseDir, f))))
                File.Copy(Path.Combine(baseDir, f), Path.Combine(temp, f));
            if (Directory.Exists(output))
            {
                // an earlier write of the same folder (a finished run resumed): the new one replaces it whole
                var old = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.old-{Environment.ProcessId}");
                if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
                Directory.Move(output, old);
                Directory.Move(temp, output);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(temp, output);
            return files;
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
    }

    /// <summary>
    /// Writes a loaded dense model's parameters under their Hugging Face names, cast to <paramref name="dtype"/>
    /// (what full fine-tuning saves), with <paramref name="baseDir"/>'s config and tokenizer files.
    /// </summary>
    public static IReadOnlyList<string> Write(LlamaForCausalLM model, string baseDir, string outputDir, ScalarType dtype, long maxShardBytes = DefaultMaxShardBytes)
    {
        if (model.modules().Any(m => m is Nf4Linear))
            throw new FinQLoraException("a model with 4-bit (NF4) projections cannot be written as a dense model folder; load the base with model.quantize: none");
        if (model.modules().OfType<Adapters.LoraLinear>().SelectMany(l => l.Adapters).FirstOrDefault() is { } adapter)
            throw new FinQLoraException($"the model still carries the LoRA adapter '{adapter.Name}': fold it into the weights first " +
                "(init_adapter_mode: merge) to write a plain model folder");
        // every projection is a LoraLinear around its base: "q_proj.base_layer.weight" is Hugging Face's "q_proj.weight"
        var byName = model.named_parameters().ToDictionary(p => p.name.Replace(".base_layer.", ".", StringComparison.Ordinal), p => p.parameter);
        return Write(baseDir, outputDir, dtype, nf4: false, maxShardBytes, writer =>
        {
            foreach (var name in OrderedNames(byName.Keys))
            {
                using var scope = NewDisposeScope();
                writer.Add(name, byName[name].detach().to(dtype).MoveToOuterDisposeScope());
            }
        });
    }

    /// <summary>save_pretrained's default max_shard_size ("5GB").</summary>
    public const long DefaultMaxShardBytes = 5_000_000_000;

    /// <summary>Embeddings first, then layer by layer, then the rest: shards hold whole layers in order.</summary>
    public static IEnumerable<string> OrderedNames(IEnumerable<string> names) =>
        names.OrderBy(n => n.StartsWith("model.embed_tokens", StringComparison.Ordinal) ? -1
                           : n.StartsWith("model.layers.", StringComparison.Ordinal) ? int.Parse(n.Split('.')[2], System.Globalization.CultureInfo.InvariantCulture)
                           : int.MaxValue)
             .ThenBy(n => n, StringComparer.Ordinal);

    /// <summary>The dtype a checkpoint's floating-point weights are stored in (its first floating tensor, by name).</summary>
    public static ScalarType StoredDType(string modelDir)
    {
        using var weights = ModelWeights.Open(modelDir);
        foreach (var name in weights.Names.Order(StringComparer.Ordinal))
            if (SafeTensorDTypes.ToScalarType(weights.Info(name).DType) is var t && t is ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float64)
                return t;
        throw new FinQLoraException($"{modelDir}: the checkpoint holds no floating-point weights");
    }

    private static void WriteConfig(string baseDir, string outDir, ScalarType dtype, bool nf4)
    {
        var path = Path.Combine(baseDir, "config.json");
        var config = JsonFile.ReadObject(path);
        var name = BnbQuantizationConfig.DTypeName(dtype);
        bool any = false;
        foreach (var key in new[] { "torch_dtype", "dtype" })
            if (config.ContainsKey(key)) { config[key] = name; any = true; }
        if (!any) config["torch_dtype"] = name;
        config.Remove("quantization_config");
        if (nf4) config["quantization_config"] = (BnbQuantizationConfig.Default with { bnb_4bit_compute_dtype = dtype }).ToJson();
        AtomicFile.WriteAllText(Path.Combine(outDir, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
