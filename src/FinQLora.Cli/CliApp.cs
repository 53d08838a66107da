using System.CommandLine;

namespace FinQLora.Cli;

/// <summary>
/// The `finqlora` program as a value: <see cref="Build"/> makes its command tree, <see cref="Run"/> runs it (parse,
/// invoke, errors mapped to one line and an exit code by <see cref="CliRunner"/>). Program.cs runs it on the process's
/// console; tests run it in process.
/// </summary>
internal static class CliApp
{
    public static RootCommand Build()
    {
        var root = new RootCommand("FinQLora: QLoRA fine-tuning of Llama-3 models on the FLARE financial benchmark, and its evaluation.");
        root.Options.Add(CliOptions.Verbose);
        foreach (var command in CommandCatalog.All())
            root.Subcommands.Add(command);
        return root;
    }

    /// <summary>Runs the command line <paramref name="args"/>; returns the exit code.</summary>
    public static int Run(string[] args) => CliRunner.Invoke(Build(), args);
}
