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
    public readonly Option<string> Quantize = new Option<string>("--quantize") { Description = "Quantize the attention and MLP projections while loading: none or nf4.", DefaultValueFactory = _ => "none" }.OneOf("none", "nf4");
    public readonly Option<string> Device = CliOptions.Device();
    public readonly Option<string> DType = CliOptions.DType();

    /// <param name="withAdapters">false for commands that take adapters their own way (serve: NAME=DIR)</param>
    public void AddTo(Command command, bool withAdapters = true)
    {
        command.Options.Add(Model);
        if (withAdapters) command.Options.Add(Adapters);
        command.Options.Add(Quantize);
        command.Options.Add(Device);
        command.Options.Add(DType);
    }

    public ModelLoadOptions LoadOptions(ParseResult parse) =>
        new(DeviceSpec.Parse(parse.GetValue(Device)!), DeviceSpec.ParseDType(parse.GetValue(DType)!), parse.GetValue(Quantize)!.ToLowerInvariant());

    /// <summary>The model as these options load it, for an evaluation's manifest: paths made absolute (except "tiny").</summary>
    public IReadOnlyDictionary<string, string> Describe(ParseResult parse)
    {
        static string Full(string p) => p == "tiny" ? p : Path.GetFullPath(p);
        return new Dictionary<string, string>
        {
            ["path"] = Full(parse.GetValue(Model)!),
            ["adapters"] = string.Join(",", (parse.GetValue(Adapters) ?? []).Select(Full)),
            ["quantize"] = parse.GetValue(Quantize)!.ToLowerInvariant(),
            ["device"] = parse.GetValue(Device)!,
            ["dtype"] = parse.GetValue(DType)!,
        };
    }

    /// <summary>The model folder --model names ("tiny" resolved to the quickstart model, created at first use).</summary>
    public string Directory(ParseResult parse) => TinyModel.Resolve(parse.GetValue(Model)!, msg => Console.Error.WriteLine(msg));

    /// <summary>The model without adapters ("tiny" made on first use).</summary>
    public ModelBundle LoadBase(ParseResult parse) => ModelBundle.Load(Directory(parse), LoadOptions(parse));

    public ModelBundle Load(ParseResult parse)
    {
        var adapters = parse.GetValue(Adapters) ?? [];
        AdapterBaseWarnings.Print(Directory(parse), adapters, parse.GetValue(Quantize)!.ToLowerInvariant());
        var bundle = LoadBase(parse);
        if (adapters.Length > 0) FinQLora.Adapters.PeftAdapterFiles.AttachAll(bundle.Model, adapters);
        return bundle;
    }
}
