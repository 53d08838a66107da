using System.CommandLine;
using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Model;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora merge`: fold LoRA adapters into the base weights and write a plain Hugging Face folder.</summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Base model folder (Hugging Face layout; a bitsandbytes 4-bit checkpoint is dequantized first), or \"tiny\".", Required = true };
        var adapters = new Option<string[]>("--adapter") { Description = "PEFT LoRA adapter folder; repeat to merge several (their deltas add up).", Required = true };
        var output = new Option<string>("--output") { Description = "New folder for the merged model (must not exist or be empty).", Required = true };
        var dtype = new Option<string>("--dtype") { Description = "dtype of the written weights: bfloat16, float16 or float32.", DefaultValueFactory = _ => "bfloat16" };
        var requantize = new Option<string>("--requantize") { Description = "none: write dense weights; nf4: quantize the merged projections again and write a bitsandbytes 4-bit checkpoint.", DefaultValueFactory = _ => "none" }.OneOf("none", "nf4");
        var shard = new Option<string>("--max-shard-size") { Description = "Largest safetensors file; bigger models are sharded with model.safetensors.index.json (e.g. 5GB, 500MB).", DefaultValueFactory = _ => "5GB" };
        var device = CliOptions.Device();
        device.Description = "Where the merge arithmetic runs: cpu or cuda (cuda:N).";
        var command = new Command("merge",
            "Merge LoRA adapters into the base model: W' = W + scaling·B·A for each adapter, computed in fp32 and cast to --dtype; " +
            "writes config.json, the weights (sharded if large) and the tokenizer files, a folder transformers loads. " +
            "For an NF4 (bitsandbytes 4-bit) base the projections are dequantized before merging; --requantize nf4 quantizes the merged weights again.")
        { model, adapters, output, dtype, requantize, shard, device };
        command.SetAction(parse =>
        {
            var req = parse.GetValue(requantize)!.ToLowerInvariant();
            if (req is not ("none" or "nf4")) throw new FinQLoraException($"--requantize {req}: expected none or nf4");
            var modelDir = TinyModel.Resolve(parse.GetValue(model)!, msg => Console.Error.WriteLine(msg));
            AdapterBaseWarnings.Print(modelDir, parse.GetValue(adapters) ?? [], quantize: null);
            var result = LoraMerger.Merge(new MergeOptions(
                modelDir,
                parse.GetValue(adapters) ?? [],
                parse.GetValue(output)!,
                DeviceSpec.ParseDType(parse.GetValue(dtype)!),
                req == "nf4",
                ShardedCheckpointWriter.ParseSize(parse.GetValue(shard)!),
                DeviceSpec.Parse(parse.GetValue(device)!)));
            Console.WriteLine($"merged {parse.GetValue(adapters)!.Length} adapter(s) into {result.MergedModules} projections{(result.BaseWasNf4 ? " (NF4 base dequantized)" : "")}; " +
                              $"wrote {result.OutputDir} ({string.Join(", ", result.WeightFiles)})");
            return 0;
        });
        return command;
    }
}
