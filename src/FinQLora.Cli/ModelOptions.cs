using System.CommandLine;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;

namespace FinQLora.Cli;

/// <summary>The options every model-running command shares: --model, --adapter, --quantize, --device, --dtype.</summary>
internal sealed class ModelOptions
{
    public readonly Option<string> Model = new("--model") { Description = "Hugging Face model folder (config.json, tokenizer.json or tokenizer.model, *.safetensors), or \"tiny\" for the quickstart model (random weights).", Required = true };
    public readonly Option<string[]> Adapters = new("--adapter") { Description = "PEFT LoRA adapter folder; repeat to stack several.", DefaultValueFactory = _ => [] };
    public readonly Option<string> Quantize = new("--quantize") { Description = "Quantize the attention and MLP projections while loading: none or nf4.", DefaultValueFactory = _ => "none" };
    public readonly Option<string> Device = CliOptions.Device();
    public readonly Option<string> DType = CliOptions.DType();

    public void AddTo(Command command)
    {
        command.Options.Add(Model);
        command.Options.Add(Adapters);
        command.Options.Add(Quantize);
        command.Options.Add(Device);
        command.Options.Add(DType);
    }

    public ModelLoadOptions LoadOptions(ParseResult parse) =>
        new(DeviceSpec.Parse(parse.GetValue(Device)!), DeviceSpec.ParseDType(parse.GetValue(DType)!), parse.GetValue(Quantize)!.ToLowerInvariant());

    public ModelBundle Load(ParseResult parse)
    {
        var dir = TinyModel.Resolve(parse.GetValue(Model)!, msg => Console.Error.WriteLine(msg));
        var bundle = ModelBundle.Load(dir, LoadOptions(parse));
        var adapters = parse.GetValue(Adapters) ?? [];
        if (adapters.Length > 0) FinQLora.Adapters.PeftAdapterFiles.AttachAll(bundle.Model, adapters);
        return bundle;
    }
}
