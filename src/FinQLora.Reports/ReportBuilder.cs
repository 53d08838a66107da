using System.Net;
using System.Text;
using FinQLora.Reports.Figures;

namespace FinQLora.Reports;

/// <summary>What a report is made from: run folders (or curriculum folders), evaluation folders, bench files.</summary>
public sealed record ReportInputs(IReadOnlyList<string> Runs, IReadOnlyList<string> Results, IReadOnlyList<string> Bench);

/// <summary>
/// `finqlora report`: the figures (300 DPI PNG), results.tex / efficiency.tex (booktabs), results.md, and
/// report.html — one self-contained page with the figures embedded, the tables, and each run's resolved
/// config and environment. Functions from records to files; nothing here trains or evaluates.
/// </summary>
public static class ReportBuilder
{
    /// <summary>Writes the report; warnings (bad lines skipped in a metrics.jsonl) go to <paramref name="warn"/> (default: stderr).</summary>
    public static IReadOnlyList<string> Build(ReportInputs inputs, string output, Action<string>? warn = null)
    {
        Directory.CreateDirectory(output);
        var runs = inputs.Runs.SelectMany(r => RunData.Expand(r, warn)).ToList();
        var results = inputs.Results.Select(ResultsData.Load).ToList();
        var bench = inputs.Bench.SelectMany(BenchRow.Load).ToList();
        var files = new List<string>();
        string Out(string name) { var p = Path.Combine(output, name); files.Add(p); return p; }
        TrainingCurves.Save(Out("training_curves.png"), runs);
        GpuUtilization.Save(Out("gpu_utilization.png"), runs);
        if (TaskMetricCurves.Save(Path.Combine(output, "task_metrics.png"), runs)) files.Add(Path.Combine(output, "task_metrics.png"));
        Comparisons.Performance(Out("performance_comparison.png"), results);
        Comparisons.Efficiency(Out("efficiency_comparison.png"), bench);
        IO.AtomicFile.WriteAllText(Out("results.tex"), Tables.ResultsTex(results));
        IO.AtomicFile.WriteAllText(Out("efficiency.tex"), Tables.EfficiencyTex(bench));
        IO.AtomicFile.WriteAllText(Out("results.md"), Tables.ResultsMd(results) + (bench.Count > 0 ? "\n" + Tables.EfficiencyMd(bench) : ""));
        IO.AtomicFile.WriteAllText(Out("report.html"), Html(output, runs, results, bench));
        return files;
    }

    /// <summary>Report of a curriculum folder: its stage runs, its eval/ results, and any bench*.jsonl beside them.</summary>
    public static IReadOnlyList<string> BuildForCurriculum(string curriculumDir, Action<string>? warn = null)
    {
        var eval = Path.Combine(curriculumDir, "eval");
        var bench = Directory.GetFiles(curriculumDir, "bench*.jsonl");
        return Build(new ReportInputs([curriculumDir], File.Exists(Path.Combine(eval, "metrics.json")) ? [eval] : [], bench), Path.Combine(curriculumDir, "report"), warn);
    }

    private static string Html(string output, IReadOnlyList<RunData> runs, IReadOnlyList<ResultsData> results, IReadOnlyList<BenchRow> bench)
    {
        string Img(string name, string alt) => $"<figure><img alt=\"{alt}\" src=\"data:image/png;base64,{Convert.ToBase64String(File.ReadAllBytes(Path.Combine(output, name)))}\"><figcaption>{alt}</figcaption></figure>";
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>FinQLora report</title><style>")
          .Append("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}img{max-width:100%}")
          .Append("table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}")
          .Append("pre{background:#f6f6f6;padding:1em;overflow:auto;font-size:12px}</style></head><body>");
        sb.Append("<h1>FinQLora report</h1>").Append($"<p>Generated {DateTime.UtcNow:u} from {runs.Count} run(s), {results.Count} evaluation(s), {bench.Count} benchmark row(s).</p>");
        sb.Append("<h2>Results</h2>").Append(MarkdownTable(Tables.ResultsMd(results)));
        sb.Append(Img("performance_comparison.png", "FLARE scores beside the paper's and its baselines'"));
        sb.Append("<h2>Training</h2>").Append(Img("training_curves.png", "Training and validation loss, learning rate")).Append(Img("gpu_utilization.png", "GPU memory and utilization"));
        sb.Append("<h2>Efficiency</h2>").Append(bench.Count > 0 ? MarkdownTable(Tables.EfficiencyMd(bench)) : "<p>No bench results were given.</p>");
        sb.Append(Img("efficiency_comparison.png", "Full fine-tuning, LoRA and QLoRA"));
        foreach (var run in runs)
        {
            sb.Append($"<h2>Run {WebUtility.HtmlEncode(run.Name)}</h2><p>{WebUtility.HtmlEncode(Path.GetFullPath(run.Dir))}</p>");
            if (run.ConfigYaml is not null) sb.Append("<h3>Resolved config</h3><pre>").Append(WebUtility.HtmlEncode(run.ConfigYaml)).Append("</pre>");
            if (run.EnvJson is not null) sb.Append("<h3>Environment</h3><pre>").Append(WebUtility.HtmlEncode(run.EnvJson)).Append("</pre>");
        }
        sb.Append("</body></html>");
        return sb.ToString();
    }

    /// <summary>Renders the first Markdown table in <paramref name="md"/> as HTML.</summary>
    private static string MarkdownTable(string md)
    {
        var lines = md.Split('\n').Where(l => l.StartsWith('|')).ToList();
        if (lines.Count < 2) return "";
        string Row(string line, string tag) => "<tr>" + string.Concat(line.Trim('|').Split('|').Select(c => $"<{tag}>{WebUtility.HtmlEncode(c.Trim())}</{tag}>")) + "</tr>";
        return "<table>" + Row(lines[0], "th") + string.Concat(lines.Skip(2).Select(l => Row(l, "td"))) + "</table>";
    }
}
