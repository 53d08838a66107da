using System.Net;
using System.Text;
using FinQLora.Reports.Figures;

namespace FinQLora.Reports;

/// <summary>
/// What a report is made from: run folders (or curriculum folders), evaluation folders, bench files; optional
/// row labels, one per evaluation folder in the same order (else each is named by its model and adapters).
/// </summary>
public sealed record ReportInputs(IReadOnlyList<string> Runs, IReadOnlyList<string> Results, IReadOnlyList<string> Bench, IReadOnlyList<string>? Labels = null);

/// <summary>The files a report wrote, and one line for each file it left out saying why.</summary>
public sealed record ReportOutput(string Dir, IReadOnlyList<string> Files, IReadOnlyList<string> LeftOut);

/// <summary>
/// `finqlora report`: the figures (300 DPI PNG), results.tex / efficiency.tex (booktabs), results.md, and
/// report.html — one self-contained page with the figures embedded, what each evaluation scored, the tables, and
/// each run's resolved config and environment. A file with nothing to show is left out (with the reason), never
/// written empty. Functions from records to files; nothing here trains or evaluates.
/// </summary>
public static class ReportBuilder
{
    /// <summary>Refusals (no input, a label count that does not match, an output folder in use) exit with this code.</summary>
    public const int ExitCode = 2;

    /// <summary>Every file a report may write: what --overwrite replaces (other files in the folder stay).</summary>
    public static readonly IReadOnlyList<string> FileNames =
    [
        "training_curves.png", "task_metrics.png", "gpu_utilization.png", "performance_comparison.png", "efficiency_comparison.png",
        "results.tex", "efficiency.tex", "results.md", "report.html",
    ];

    /// <summary>
    /// Writes the report; warnings (bad lines skipped in a metrics.jsonl) go to <paramref name="warn"/> (default: stderr).
    /// Every input is read before anything is written; a folder that holds files is refused unless <paramref name="overwrite"/>.
    /// </summary>
    public static ReportOutput Build(ReportInputs inputs, string output, bool overwrite = false, Action<string>? warn = null)
    {
        if (inputs.Runs.Count + inputs.Results.Count + inputs.Bench.Count == 0)
            throw new FinQLoraException("report needs something to report: give --runs DIR, --results DIR or --bench FILE (nothing was written)", ExitCode);
        var labels = inputs.Labels ?? [];
        if (labels.Count > 0 && labels.Count != inputs.Results.Count)
            throw new FinQLoraException($"--label was given {labels.Count} time(s) for {inputs.Results.Count} --results folder(s): give one label per --results, in the same order", ExitCode);
        var runs = inputs.Runs.SelectMany(r => RunData.Expand(r, warn)).ToList();
        var results = Unique(inputs.Results.Select((r, i) => ResultsData.Load(r, labels.Count > 0 ? labels[i] : null)).ToList());
        var bench = inputs.Bench.SelectMany(BenchRow.Load).ToList();
        if (runs.Count == 0 && results.Count == 0 && bench.Count == 0)
            throw new FinQLoraException($"nothing to report: no run folder with metrics.jsonl under --runs {string.Join(" ", inputs.Runs)}, and no --results or --bench (nothing was written)", ExitCode);
        PrepareFolder(output, overwrite);

        var banner = RandomWeightsBanner.For(results, runs);
        var figureBanner = banner is null ? null : RandomWeightsBanner.Short;
        var files = new List<string>();
        var leftOut = new List<string>();
        string Out(string name) { var p = Path.Combine(output, name); files.Add(p); return p; }
        string noRuns = inputs.Runs.Count == 0 ? "no --runs given" : "the runs have no training metrics (metrics.jsonl)";

        if (TrainingCurves.HasData(runs)) TrainingCurves.Save(Out("training_curves.png"), runs, figureBanner);
        else leftOut.Add($"training_curves.png: {noRuns}");
        if (TaskMetricCurves.Save(Path.Combine(output, "task_metrics.png"), runs)) files.Add(Path.Combine(output, "task_metrics.png"));
        if (GpuUtilization.HasData(runs)) GpuUtilization.Save(Out("gpu_utilization.png"), runs);
        else leftOut.Add($"gpu_utilization.png: {(runs.Count == 0 ? noRuns : "no GPU samples (gpu.jsonl) in the runs: trained on a CPU, or without an NVIDIA driver")}");
        if (results.Count > 0)
        {
            Comparisons.Performance(Out("performance_comparison.png"), results, figureBanner);
            IO.AtomicFile.WriteAllText(Out("results.tex"), Tables.ResultsTex(results, banner));
        }
        else leftOut.AddRange(["performance_comparison.png: no --results given", "results.tex: no --results given"]);
        const string noBench = "no bench results given (finqlora bench --json FILE, then --bench FILE)";
        if (Comparisons.HasEfficiencyData(bench)) Comparisons.Efficiency(Out("efficiency_comparison.png"), bench);
        else leftOut.Add($"efficiency_comparison.png: {(bench.Count == 0 ? noBench : "no FinQLora full/lora/qlora rows in the bench files")}");
        if (bench.Count > 0) IO.AtomicFile.WriteAllText(Out("efficiency.tex"), Tables.EfficiencyTex(bench));
        else leftOut.Add($"efficiency.tex: {noBench}");
        if (results.Count > 0 || bench.Count > 0)
            IO.AtomicFile.WriteAllText(Out("results.md"), (results.Count > 0 ? Tables.ResultsMd(results, banner) : "") +
                (bench.Count > 0 ? "\n## Efficiency\n\n" + Tables.EfficiencyMd(bench) : ""));
        else leftOut.Add("results.md: no --results or --bench given");
        var html = Html(output, runs, results, bench, banner, leftOut);
        IO.AtomicFile.WriteAllText(Out("report.html"), html);
        return new ReportOutput(output, files, leftOut);
    }

    /// <summary>Report of a curriculum folder: its stage runs, its eval/ results, and any bench*.jsonl beside them; report/ is part of the run and replaced.</summary>
    public static ReportOutput BuildForCurriculum(string curriculumDir, Action<string>? warn = null)
    {
        var eval = Path.Combine(curriculumDir, "eval");
        var bench = Directory.GetFiles(curriculumDir, "bench*.jsonl");
        return Build(new ReportInputs([curriculumDir], File.Exists(Path.Combine(eval, "metrics.json")) ? [eval] : [], bench), Path.Combine(curriculumDir, "report"), overwrite: true, warn);
    }

    private static void PrepareFolder(string output, bool overwrite)
    {
        if (File.Exists(output)) throw new FinQLoraException($"--output {output} is a file; give a folder for the report", ExitCode);
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
        {
            if (!overwrite)
                throw new FinQLoraException($"the output folder {output} already holds files (an earlier report?): pass --overwrite to replace its report files, or choose another folder (--output DIR)", ExitCode);
            foreach (var name in FileNames) File.Delete(Path.Combine(output, name));   // a figure left out this time must not survive from the last
        }
        Directory.CreateDirectory(output);
    }

    /// <summary>Two evaluations of the same model and adapters get their folder names added, so no two rows read the same.</summary>
    private static List<ResultsData> Unique(List<ResultsData> results)
    {
        var repeated = results.GroupBy(r => r.Label).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet();
        return results.Select(r => repeated.Contains(r.Label) ? r with { GivenLabel = $"{r.Label} ({Path.GetFullPath(r.Dir).TrimEnd('/')})" } : r).ToList();
    }

    private static string Html(string output, IReadOnlyList<RunData> runs, IReadOnlyList<ResultsData> results, IReadOnlyList<BenchRow> bench, string? banner, IReadOnlyList<string> leftOut)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        string Img(string name, string caption) => File.Exists(Path.Combine(output, name))
            ? $"<figure><img alt=\"{E(caption)}\" src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(Path.Combine(output, name)))}\"><figcaption>{E(caption)}</figcaption></figure>"
            : $"<p class=\"omitted\">{E(leftOut.First(l => l.StartsWith(name, StringComparison.Ordinal)))}</p>";
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>FinQLora report</title><style>")
          .Append("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}img{max-width:100%}")
          .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}")
          .Append(".banner{border:3px solid #b00020;background:#fde7ea;color:#7a0016;padding:1em;font-weight:bold;font-size:1.1em}")
          .Append(".note{color:#444;font-size:0.95em}.omitted{color:#666;font-style:italic}")
          .Append("pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style></head><body>");
        sb.Append("<h1>FinQLora report</h1>");
        if (banner is not null) sb.Append($"<div class=\"banner\">{E(banner)}</div>");
        sb.Append($"<p>Generated {DateTime.UtcNow:u} from {runs.Count} run(s), {results.Count} evaluation(s), {bench.Count} benchmark row(s).</p>");
        if (results.Count > 0)
        {
            sb.Append("<h2>Results</h2>").Append(Tables.Comparison(results).ToHtml());
            foreach (var note in Tables.ComparisonNotes(results)) sb.Append($"<p class=\"note\">{E(note)}</p>");
            sb.Append(Img("performance_comparison.png", "FLARE scores beside the paper's and its baselines' (%)"));
            foreach (var r in results)
            {
                sb.Append($"<h3>{E(r.Label)}</h3><p class=\"note\">{E(Path.GetFullPath(r.Dir))}</p>");
                if (Tables.Settings(r) is { } settings) sb.Append("<h4>What was scored</h4>").Append(settings.ToHtml());
                else sb.Append($"<p class=\"omitted\">No evaluation.json in this folder (an evaluation made before it was recorded): model, adapters and data are not known.</p>");
                sb.Append("<h4>Per task</h4>").Append(Tables.TaskMetrics(r).ToHtml()).Append($"<p class=\"note\">{E(Tables.TaskMetricsNote)}</p>");
            }
        }
        else sb.Append("<h2>Results</h2><p class=\"omitted\">No evaluation results were given (--results DIR).</p>");
        sb.Append("<h2>Training</h2>");
        bool validation = TrainingCurves.HasValidation(runs);
        sb.Append(Img("training_curves.png", validation ? "Training and validation loss, learning rate" : "Training loss and learning rate (no validation loss was logged: no valid split, or logging.eval_every_steps unset)"));
        sb.Append(Img("gpu_utilization.png", "GPU memory and utilization"));
        sb.Append("<h2>Efficiency</h2>");
        if (bench.Count > 0) sb.Append(Tables.Efficiency(bench).ToHtml());
        sb.Append(Img("efficiency_comparison.png", "Full fine-tuning, LoRA and QLoRA, each measure relative to the largest"));
        foreach (var run in runs)
        {
            sb.Append($"<h2>Run {E(run.Name)}</h2><p>{E(Path.GetFullPath(run.Dir))}</p>");
            if (run.ConfigYaml is not null) sb.Append("<h3>Resolved config</h3><pre>").Append(E(run.ConfigYaml)).Append("</pre>");
            if (run.EnvJson is not null) sb.Append("<h3>Environment</h3><pre>").Append(E(run.EnvJson)).Append("</pre>");
        }
        sb.Append("</body></html>");
        return sb.ToString();
    }
}
