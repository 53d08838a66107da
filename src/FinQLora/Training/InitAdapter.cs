using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>The base a stage trained on: the base model plus an earlier adapter, stacked or merged (written beside the stage's adapter).</summary>
/// <param name="RequantizedFrom">merge on a 4-bit base: "checkpoint" (the checkpoint's dense weights, merged and quantized once) or "4-bit" (dequantized, merged, quantized again)</param>
public sealed record InitAdapterBase(string BaseModel, string InitAdapter, InitAdapterMode Mode, string DType, bool Nf4, string? RequantizedFrom);

/// <summary>
/// How a stage starts from an earlier stage's adapter (init_adapter), on a freshly loaded model:
/// <list type="bullet">
/// <item><c>stack</c>: the adapter is attached frozen and the new trainable adapter goes on top; the earlier
/// stage stays exact (also on a 4-bit base), and using the new adapter needs both.</item>
/// <item><c>merge</c>: the adapter is folded into the base weights first (<see cref="LoraMerger.MergeInto(LlamaForCausalLM, IReadOnlyList{string}, IWeightSource?, Action{string}?)"/>,
/// projection by projection); on a 4-bit base the merged projections are quantized again, which adds a
/// second 4-bit rounding unless the checkpoint is dense (then the merged dense weight is quantized once,
/// exactly as if the merged model had been loaded).</item>
/// </list>
/// The note <see cref="WriteNote"/> leaves in the new adapter's folder says which base it needs and how to rebuild it.
/// </summary>
public static class InitAdapter
{
    public const string NoteFile = "finqlora_base.json";
    public const string ReadmeFile = "README.md";

    public static InitAdapterBase Apply(LlamaForCausalLM model, string adapterDir, InitAdapterMode mode, string modelDir, string adapterName, Action<string> log)
    {
        bool nf4 = LoraInjector.Projections(model).Any(p => p.Layer.base_layer is Nf4Linear);
        string dtype = BnbQuantizationConfig.DTypeName(model.DType);
        string baseModel = modelDir.StartsWith(ModelBundle.RandomPrefix, StringComparison.Ordinal) ? modelDir : Path.GetFullPath(modelDir);
        if (mode == InitAdapterMode.Stack)
        {
            PeftAdapterFiles.Load(adapterDir, model, adapterName, trainable: false);
            log($"stacked frozen adapter {adapterDir}");
            return new InitAdapterBase(baseModel, Path.GetFullPath(adapterDir), mode, dtype, nf4, null);
        }
        using var checkpoint = nf4 ? DenseCheckpoint.Open(modelDir) : null;
        var r = LoraMerger.MergeInto(model, [adapterDir], checkpoint?.Source);
        string? from = r.Requantized == 0 ? null : r.FromCheckpoint == r.Requantized ? "checkpoint" : "4-bit";
        log($"merged adapter {adapterDir} into {r.Total} base projections" + (from switch
        {
            "checkpoint" => $" (NF4: the checkpoint's dense weights merged, then quantized once)",
            "4-bit" => $" (NF4: dequantized, merged and quantized again: a second 4-bit rounding; init_adapter_mode: stack keeps {adapterDir} exact)",
            _ => "",
        }));
        return new InitAdapterBase(baseModel, Path.GetFullPath(adapterDir), mode, dtype, nf4, from);
    }

    /// <summary>Writes <see cref="NoteFile"/> and <see cref="ReadmeFile"/> into a finished adapter folder (PEFT ignores both).</summary>
    public static void WriteNote(string adapterDir, InitAdapterBase b, string stage)
    {
        Directory.CreateDirectory(adapterDir);
        var json = new JsonObject
        {
            ["stage"] = stage, ["base_model"] = b.BaseModel, ["base_dtype"] = b.DType, ["base_quantize"] = b.Nf4 ? "nf4" : "none",
            ["init_adapter"] = b.InitAdapter, ["init_adapter_mode"] = b.Mode.ToString().ToLowerInvariant(), ["requantized_from"] = b.RequantizedFrom,
        };
        AtomicFile.WriteAllText(Path.Combine(adapterDir, NoteFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
        AtomicFile.WriteAllText(Path.Combine(adapterDir, ReadmeFile), Readme(Path.GetFullPath(adapterDir), b, stage));
    }

    private static string Readme(string self, InitAdapterBase b, string stage)
    {
        string q = b.Nf4 ? " --quantize nf4" : "";
        string model = $"--model {b.BaseModel}";
        var s = new StringBuilder();
        s.AppendLine($"# LoRA adapter of stage '{stage}' (PEFT format)").AppendLine();
        s.AppendLine($"Base model: `{b.BaseModel}` ({b.DType}{(b.Nf4 ? ", projections in NF4" : "")}).");
        s.AppendLine($"Trained on top of the adapter `{b.InitAdapter}`, {(b.Mode == InitAdapterMode.Stack ? "**stacked** (frozen, `init_adapter_mode: stack`)" : "**merged into the base weights** (`init_adapter_mode: merge`)")}.");
        s.AppendLine("This adapter alone on the plain base model is NOT the trained model.").AppendLine();
        if (b.Mode == InitAdapterMode.Stack)
        {
            s.AppendLine("Use both adapters (this reproduces the training-time model exactly):").AppendLine();
            s.AppendLine($"    finqlora score {model}{q} --dtype {b.DType} --adapter {b.InitAdapter} --adapter {self} --input pairs.jsonl");
            s.AppendLine($"    finqlora merge {model} --adapter {b.InitAdapter} --adapter {self} --output MERGED   # one plain Hugging Face folder");
            return s.ToString();
        }
        s.AppendLine("The training base was W' = W + scaling·B·A for every projection the first adapter changes, computed in fp32");
        s.AppendLine($"and cast to {b.DType}{(b.Nf4 ? ", then quantized again to NF4 (blocks of 64, double quantization)" : "")}.");
        s.AppendLine(b.RequantizedFrom == "4-bit"
            ? "The base is a 4-bit checkpoint: its projections were dequantized, merged and quantized again (a second 4-bit rounding)."
            : b.Nf4 ? "The base checkpoint is dense: the merged dense weights were quantized once, as when loading a merged folder." : "");
        s.AppendLine().AppendLine("Rebuild that base exactly, then use this adapter on it:").AppendLine();
        if (!b.Nf4)
        {
            s.AppendLine($"    finqlora merge {model} --adapter {b.InitAdapter} --output MERGED --dtype {b.DType}");
            s.AppendLine($"    finqlora score --model MERGED --dtype {b.DType} --adapter {self} --input pairs.jsonl").AppendLine();
            s.AppendLine("Merging is linear, so on this dense base both adapters stacked give the same model up to float rounding:").AppendLine();
            s.AppendLine($"    finqlora score {model} --dtype {b.DType} --adapter {b.InitAdapter} --adapter {self} --input pairs.jsonl");
        }
        else if (b.RequantizedFrom == "4-bit")
        {
            s.AppendLine($"    finqlora merge {model} --adapter {b.InitAdapter} --output MERGED --dtype {b.DType} --requantize nf4");
            s.AppendLine($"    finqlora score --model MERGED --dtype {b.DType} --adapter {self} --input pairs.jsonl").AppendLine();
        }
        else
        {
            s.AppendLine($"    finqlora merge {model} --adapter {b.InitAdapter} --output MERGED --dtype {b.DType}");
            s.AppendLine($"    finqlora score --model MERGED --quantize nf4 --dtype {b.DType} --adapter {self} --input pairs.jsonl").AppendLine();
        }
        if (b.Nf4)
            s.AppendLine($"`finqlora score {model}{q} --adapter {b.InitAdapter} --adapter {self}` is close to it but not equal: it keeps the first adapter exact instead of rounding the merged weights to 4 bits.");
        return s.ToString();
    }

    /// <summary>The model's own checkpoint as a weight source (to merge into dense weights before quantizing), or null for none.</summary>
    private sealed class DenseCheckpoint(IWeightSource source, IDisposable? owner) : IDisposable
    {
        public IWeightSource Source { get; } = source;

        public static DenseCheckpoint Open(string modelDir)
        {
            if (modelDir.StartsWith(ModelBundle.RandomPrefix, StringComparison.Ordinal))   // the same seeded weights the model was built from
                return new DenseCheckpoint(new RandomWeights(ModelShapes.Resolve(modelDir[ModelBundle.RandomPrefix.Length..]), seed: 0), null);
            var weights = ModelWeights.Open(modelDir);
            return new DenseCheckpoint(new CheckpointWeights(weights), weights);
        }

        public void Dispose() => owner?.Dispose();
    }
}
