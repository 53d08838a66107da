using System.CommandLine;

namespace FinQLora.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CliOptions
{
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Print stack traces of errors.", Recursive = true };

    /// <summary>The options every command accepts besides its own (recursive ones and help).</summary>
    public static IEnumerable<Option> All(Command command) =>
        new[] { (Option)Verbose }.Concat(command.Parents.OfType<Command>().SelectMany(p => p.Options).Where(o => o.Recursive));

    public static Option<string> Device()
    {
        var device = new Option<string>("--device") { Description = "cpu or cuda (cuda:N for a given GPU).", DefaultValueFactory = _ => "cpu" };
        device.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && FinQLora.Model.DeviceSpec.SyntaxError(result.Tokens[^1].Value, "--device") is { } error) result.AddError(error);
        });
        return device;
    }

    /// <summary>`--set key.sub=value`, repeatable: config overrides applied before validation (docs/TRAINING.md).</summary>
    public static Option<string[]> Set() => new("--set")
    {
        Description = "Override a config key, e.g. --set training.lr=1e-4 --set data.tasks=[fpb,ner] (repeatable).",
        DefaultValueFactory = _ => [],
        AllowMultipleArgumentsPerToken = false,
    };

    public static Option<string> DType() => new("--dtype") { Description = "Compute dtype: float32 or bfloat16.", DefaultValueFactory = _ => "float32" };
}
