using System.CommandLine;

namespace FinQLora.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CliOptions
{
    public static readonly Option<bool> Verbose = new("--verbose") { Description = "Print stack traces of errors.", Recursive = true };

    public static Option<string> Device() => new("--device") { Description = "cpu or cuda (cuda:N for a given GPU).", DefaultValueFactory = _ => "cpu" };

    public static Option<string> DType() => new("--dtype") { Description = "Compute dtype: float32 or bfloat16.", DefaultValueFactory = _ => "float32" };
}
