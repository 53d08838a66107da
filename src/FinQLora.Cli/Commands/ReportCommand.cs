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
        var labels = new Option<string[]>("--label") { Description = "Row label for each --results folder, in the same order (default: its model and adapters, from evaluation.json).", DefaultValueFactory = _ => [] };
        var bench = new Option<string[]>("--bench") { Description = "bench --json files (repeatable).", DefaultValueFactory = _ => [], AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--output") { Description = "Folder for the PNGs, .tex, .md and report.html.", Required = true };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the report files of an earlier report in --output (a folder that holds files is refused without it)." };
        var command = new Command("report", "Write training_curves.png, gpu_utilization.png, performance_comparison.png, efficiency_comparison.png (300 DPI), results.tex, efficiency.tex, results.md and report.html; a file with nothing to show is left out, with the reason.")
            { runs, results, labels, bench, output, overwrite };
        command.SetAction(parse =>
        {
            var report = ReportBuilder.Build(new ReportInputs(parse.GetValue(runs) ?? [], parse.GetValue(results) ?? [], parse.GetValue(bench) ?? [], parse.GetValue(labels) ?? []),
                parse.GetValue(output)!, parse.GetValue(overwrite));
            Print(report, Console.WriteLine);
            return 0;
        });
        return command;
    }

    /// <summary>What was written, one file a line, then each file left out with its reason.</summary>
    public static void Print(ReportOutput report, Action<string> write)
    {
        write($"wrote {report.Files.Count} file(s) in {Path.GetFullPath(report.Dir)}:");
        foreach (var f in report.Files) write($"  {Path.GetFileName(f)}");
        foreach (var l in report.LeftOut) write($"  left out {l}");
    }
}
