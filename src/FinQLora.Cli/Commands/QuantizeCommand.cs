using System.CommandLine;
using FinQLora.Adapters;
using FinQLora.Model;
using FinQLora.Quantization;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora quantize`: a dense Hugging Face folder → the same model in bitsandbytes' 4-bit NF4 layout.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Dense Hugging Face model folder.", Required = true };
        var output = new Option<string>("--output") { Description = "New folder for the 4-bit checkpoint (transformers + bitsandbytes load it).", Required = true };
        var device = CliOptions.Device();
        var shard = new Option<string>("--max-shard-size") { Description = "Largest safetensors shard.", DefaultValueFactory = _ => "5GB" };
        var dtype = new Option<string>("--dtype")
        {
            Description = "dtype the projections are quantized from and the other weights are written in: auto (the checkpoint's own, " +
                "as transformers loads it), bfloat16, float16 or float32.",
            DefaultValueFactory = _ => "auto",
        };
        var command = new Command("quantize", "Quantize the attention and MLP projections to NF4 with double quantization (blocks of 64) and write them in bitsandbytes' checkpoint layout, with quantization_config in config.json; embeddings, norms and lm_head stay in --dtype, the checkpoint's own by default.")
            { model, output, device, shard, dtype };
        command.SetAction(parse =>
        {
            var dir = parse.GetValue(model)!;
            var name = parse.GetValue(dtype)!;
            var type = name == "auto" ? CheckpointDType(dir) : DeviceSpec.ParseDType(name);
            var result = LoraMerger.Merge(new MergeOptions(dir, [], parse.GetValue(output)!, DType: type, RequantizeNf4: true,
                MaxShardBytes: IO.ShardedCheckpointWriter.ParseSize(parse.GetValue(shard)!), Device: DeviceSpec.Parse(parse.GetValue(device)!)));
            Console.WriteLine($"wrote {result.OutputDir} ({result.WeightFiles.Count} weight file(s))");
            return 0;
        });
        return command;
    }

    /// <summary>config.json's dtype (torch_dtype) when it is bfloat16, float16 or float32; else bfloat16.</summary>
    private static TorchSharp.torch.ScalarType CheckpointDType(string dir) =>
        BnbQuantizationConfig.ParseDType(LlamaConfig.Load(dir).TorchDtype ?? "") ?? TorchSharp.torch.ScalarType.BFloat16;
}
