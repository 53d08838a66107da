using System.CommandLine;
using FinQLora.Cli;

FinQLora.Runtime.NativeBootstrap.Ensure();
PrintableWriter.Install();
// the curriculum ends with the report; the drawing code lives outside the core library
FinQLora.Training.CurriculumRunner.Report = (dir, log) =>
    FinQLora.Cli.Commands.ReportCommand.Print(FinQLora.Reports.ReportBuilder.BuildForCurriculum(dir, log), line => log("report: " + line.TrimStart()));
var root = new RootCommand("FinQLora: QLoRA fine-tuning of Llama-3 models on the FLARE financial benchmark, and its evaluation.");
root.Options.Add(CliOptions.Verbose);
foreach (var command in CommandCatalog.All())
    root.Subcommands.Add(command);
return CliRunner.Invoke(root, args);
