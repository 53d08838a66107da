using System.CommandLine;
using FinQLora.Cli;

FinQLora.Runtime.NativeBootstrap.Ensure();
var root = new RootCommand("FinQLora: QLoRA fine-tuning of Llama-3 models on the FLARE financial benchmark, and its evaluation.");
root.Options.Add(CliOptions.Verbose);
foreach (var command in CommandCatalog.All())
    root.Subcommands.Add(command);
return CliRunner.Invoke(root, args);
