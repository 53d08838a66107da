using System.CommandLine;
using FinQLora.Adapters;
using FinQLora.Model;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora params`: trainable and total parameters of a LoRA setup, from shapes only, printed as PEFT prints them.</summary>
internal static class ParamsCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model folder whose config.json gives the shapes (no weights are read), or \"tiny\"." };
        var shape = new Option<string?>("--shape") { Description = "Instead of --model: llama3.1-8b, tiny, or a path to a config.json." }.Shape();
        var r = new Option<int>("--lora-r") { Description = "LoRA rank r.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var alpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha (scaling = alpha / r; does not change the counts).", DefaultValueFactory = _ => 32 };
        var targets = new Option<string>("--targets") { Description = "Comma-separated projections (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj) or all-linear.", DefaultValueFactory = _ => "q_proj,k_proj,v_proj,o_proj" }.Targets();
        var layers = new Option<string?>("--layers") { Description = "Comma-separated layer indices to adapt (default: all layers)." };
        var command = new Command("params", "Print trainable, total and trainable% parameters of a LoRA setup the way PEFT's print_trainable_parameters does (computed from shapes).")
        { model, shape, r, alpha, targets, layers };
        command.SetAction(parse =>
        {
            var config = ResolveConfig(parse.GetValue(model), parse.GetValue(shape));
            var layerList = parse.GetValue(layers) is { } l ? l.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseLayer).ToList() : null;
            var settings = new LoraSettings(parse.GetValue(r), parse.GetValue(alpha), 0, parse.GetValue(targets)!.Split(','), Layers: layerList);
            Console.WriteLine(ParameterCount.Report(config, settings));
            return 0;
        });
        return command;
    }

    private static int ParseLayer(string s) =>
        int.TryParse(s, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var i) ? i
            : throw new FinQLoraException($"--layers: '{s}' is not a layer index (use e.g. --layers 0,1,2)");

    private static LlamaConfig ResolveConfig(string? model, string? shape)
    {
        if ((model is null) == (shape is null)) throw new FinQLoraException("give either --model DIR or --shape llama3.1-8b|tiny|PATH/config.json");
        if (model is not null) return model == TinyModel.Name ? TinyModel.Config : LlamaConfig.Load(model);
        return ModelShapes.Resolve(shape!);
    }
}
