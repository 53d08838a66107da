using System.CommandLine;
using FinQLora.Reports;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora report`: figures, LaTeX and Markdown tables, and an HTML page from runs, results and bench files.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var runs = new Option<string[]>("--runs") { Description = "Training run folders or curriculum folders (repeatable).", DefaultValueFactory = _ => [], AllowMultipleArgumentsPerToken = true };
        var results = new Option<string[]>("--results") { Description = "Evaluation folders with metrics.json (repeatable).", DefaultValueFactory = _ => [], AllowMultipleArgumentsPerToken = true };
        var bench = new Option<string[]>("--bench") { Description = "bench --json files (repeatable).", DefaultValueFactory = _ => [], AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output") { Description = "Folder for the PNGs, .tex, .md and report.html.", Required = true };
        var command = new Command("report", "Write training_curves.png, gpu_utilization.png, performance_comparison.png, efficiency_comparison.png (300 DPI), results.tex, efficiency.tex, results.md and report.html.")
            { runs, results, bench, output };
        command.SetAction(parse =>
        {
            var files = ReportBuilder.Build(new ReportInputs(parse.GetValue(runs) ?? [], parse.GetValue(results) ?? [], parse.GetValue(bench) ?? []), parse.GetValue(output)!);
            foreach (var f in files) Console.WriteLine(f);
            return 0;
        });
        return command;
    }
}
