using System.CommandLine;
using FinQLora.Adapters;
using FinQLora.Model;

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
        var command = new Command("quantize", "Quantize the attention and MLP projections to NF4 with double quantization (blocks of 64) and write them in bitsandbytes' checkpoint layout, with quantization_config in config.json; embeddings, norms and lm_head stay bf16.")
            { model, output, device, shard };
        command.SetAction(parse =>
        {
            var result = LoraMerger.Merge(new MergeOptions(parse.GetValue(model)!, [], parse.GetValue(output)!, RequantizeNf4: true,
                MaxShardBytes: IO.ShardedCheckpointWriter.ParseSize(parse.GetValue(shard)!), Device: DeviceSpec.Parse(parse.GetValue(device)!)));
            Console.WriteLine($"wrote {result.OutputDir} ({result.WeightFiles.Count} weight file(s))");
            return 0;
        });
        return command;
    }
}
