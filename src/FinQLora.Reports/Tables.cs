using System.Globalization;
using System.Text;

namespace FinQLora.Reports;

/// <summary>
/// results.tex / efficiency.tex (booktabs), results.md, and the tables report.html shows: our rows beside the
/// reported numbers (with notes saying what each composite column averages and how many rows were scored), each
/// evaluation's per-task metrics and its settings.
/// </summary>
public static class Tables
{
    public static string Latex(string text)
    {
        var sb = new StringBuilder();
        foreach (char c in text)
            sb.Append(c switch
            {
                '\\' => @"\textbackslash{}", '&' => @"\&", '%' => @"\%", '$' => @"\$", '#' => @"\#", '_' => @"\_",
                '{' => @"\{", '}' => @"\}", '~' => @"\textasciitilde{}", '^' => @"\textasciicircum{}", _ => c.ToString(),
            });
        return sb.ToString();
    }

    private static string F(double? v, string format = "0.00") => v is { } x && double.IsFinite(x) ? x.ToString(format, CultureInfo.InvariantCulture) : "--";

    /// <summary>Our rows (one per evaluation, by its label) and the reported ones, in % per paper column.</summary>
    public static TableData Comparison(IReadOnlyList<ResultsData> results) => new(
        ["Model", .. Baselines.Columns.Select(c => c.Label)],
        results.Select(r => (string[])[r.Label, .. Baselines.Columns.Select(c => F(Baselines.Ours(r.Metrics, c)))])
            .Concat(Baselines.Reported.Select(kv => (string[])[kv.Key, .. kv.Value.Select(v => F(v))])).ToList());

    /// <summary>
    /// The sentences under the comparison: units and metric mapping, what our SMP value averages for each evaluation
    /// (only the stock-movement tasks present), and how many rows each evaluation scored.
    /// </summary>
    public static IReadOnlyList<string> ComparisonNotes(IReadOnlyList<ResultsData> results)
    {
        var all = string.Join(", ", Baselines.SmpParts.Select(p => p.Name));
        var notes = new List<string> { "Scores in %. FPB/FiQA-SA F1 = weighted F1; FinQA/ConvFinQA EM = exact match (acc); NER F1 = entity F1." };
        foreach (var r in results)
        {
            var present = Baselines.SmpPresent(r.Metrics);
            var absent = Baselines.SmpParts.Except(present).Select(p => p.Name).ToList();
            notes.Add(present.Count == 0
                ? $"SMP acc of {r.Label}: no stock-movement task was evaluated."
                : $"SMP acc of {r.Label} = mean accuracy over {string.Join(", ", present.Select(p => p.Name))}" +
                  (absent.Count > 0 ? $" only ({string.Join(", ", absent)} not evaluated; the reported rows average {all})." : "."));
            if (RowsNote(r) is { } rows) notes.Add(rows);
        }
        if (results.Count == 0) notes.Add($"SMP acc = mean accuracy over {all}.");
        return notes;
    }

    /// <summary>"tiny + stage1+stage2: 8 test rows per task (--limit 8)", or per task when they differ; null without evaluation.json.</summary>
    private static string? RowsNote(ResultsData r)
    {
        if (r.RowCounts is not { Count: > 0 } rows) return null;
        var counts = rows.Values.Distinct().ToList();
        var limit = r.Info?.Limit is { } l ? $" (limit {l} per task)" : "";
        var split = r.Info?.Split is { } s ? $"{s} " : "";
        return counts.Count == 1
            ? $"{r.Label} scored {counts[0]} {split}rows per task{limit} on {string.Join(", ", rows.Keys)}."
            : $"{r.Label} scored {split}rows{limit}: {string.Join(", ", rows.Select(kv => $"{kv.Key} {kv.Value}"))}.";
    }

    /// <summary>The metric columns of the per-task table, in this order, with their headers; all in % but MCC (-1 to 1).</summary>
    private static readonly (string Key, string Header)[] TaskColumns =
    [
        ("acc", "acc (%)"), ("f1", "weighted F1 (%)"), ("avg_f1", "avg F1 (%)"), ("macro_f1", "macro-F1 (%)"), ("mcc", "MCC"), ("entity_f1", "entity F1 (%)"),
        ("num_acc", "num acc (%)"), ("missing", "missing (%)"), ("defaulted", "defaulted (%)"),
    ];

    /// <summary>One row per task of an evaluation: rows scored and every metric it has; "--" where a metric does not apply.</summary>
    public static TableData TaskMetrics(ResultsData r)
    {
        var columns = TaskColumns.Where(c => r.Metrics.Values.Any(m => m.ContainsKey(c.Key))).ToList();
        return new(["task", "rows", .. columns.Select(c => c.Header)],
            r.Metrics.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (string[])[kv.Key, r.Rows(kv.Key)?.ToString(CultureInfo.InvariantCulture) ?? "--",
                .. columns.Select(c => !kv.Value.TryGetValue(c.Key, out var v) ? "--" : c.Key == "mcc" ? F(v, "0.000") : F(100 * v))]).ToList());
    }

    public const string TaskMetricsNote =
        "missing: sentiment outputs the parser could not match, scored as the label \"missing\" (wrong). " +
        "defaulted: stock-movement and headlines outputs the parser could not match, scored as FLARE's default label (Fall; No), " +
        "so part of acc may come from the default rather than the model. num acc is FinQLora's numeric-tolerance accuracy, not a FLARE metric.";

    /// <summary>What an evaluation scored (evaluation.json), as name/value rows; null for an evaluation without it.</summary>
    public static TableData? Settings(ResultsData r)
    {
        if (r.Info is not { } i) return null;
        string V(string key) => i.Get(key) is { Length: > 0 } v ? v : "--";
        return new(["setting", "value"],
        [
            ["model", i.Model + (i.RandomWeights ? " (RANDOM weights)" : "")],
            ["adapters", i.Adapters.Count == 0 ? "none" : string.Join(", ", i.Adapters)],
            ["quantize", V("model.quantize")],
            ["data", $"{V("data")} ({i.Split} split)"],
            ["rows per task", r.RowCounts is { } rows ? string.Join(", ", rows.Select(kv => $"{kv.Key} {kv.Value}")) : "--"],
            ["limit", V("limit")],
            ["mode", V("mode")],
            ["max new tokens", V("max_new_tokens")],
            ["max length", V("max_length")],
            .. i.Get("rescored_from") is { } p ? new[] { new[] { "re-scored from", p } } : [],
        ]);
    }

    public static string ResultsTex(IReadOnlyList<ResultsData> results, string? banner = null)
    {
        var table = Comparison(results);
        var sb = new StringBuilder();
        sb.AppendLine(@"\begin{table}[t]").AppendLine(@"\centering").AppendLine(@"\small");
        sb.AppendLine(@"\begin{tabular}{l" + new string('r', Baselines.Columns.Count) + "}").AppendLine(@"\toprule");
        sb.AppendLine(string.Join(" & ", table.Header.Select(Latex)) + @" \\").AppendLine(@"\midrule");
        foreach (var row in table.Rows)
            sb.AppendLine(string.Join(" & ", row.Select(Latex)) + @" \\");
        sb.AppendLine(@"\bottomrule").AppendLine(@"\end{tabular}");
        var caption = (banner is null ? "" : @"\textbf{" + Latex(banner) + "} ") + "FLARE results. " + Latex(string.Join(" ", ComparisonNotes(results)));
        sb.AppendLine(@"\caption{" + caption + "}").AppendLine(@"\label{tab:results}").AppendLine(@"\end{table}");
        return sb.ToString();
    }

    public static string ResultsMd(IReadOnlyList<ResultsData> results, string? banner = null)
    {
        var sb = new StringBuilder();
        if (banner is not null) sb.Append($"> **{banner}**\n\n");
        sb.Append(Comparison(results).ToMarkdown()).Append('\n');
        foreach (var note in ComparisonNotes(results)) sb.Append(note).Append('\n');
        foreach (var r in results)
        {
            sb.Append($"\n### {r.Label}\n\n");
            if (Settings(r) is { } settings) sb.Append(settings.ToMarkdown()).Append('\n');
            sb.Append(TaskMetrics(r).ToMarkdown()).Append('\n').Append(TaskMetricsNote).Append('\n');
        }
        return sb.ToString();
    }

    public static TableData Efficiency(IReadOnlyList<BenchRow> bench) => new(
        ["side", "method", "tokens/s", "peak GPU mem (GiB)", "resident (GiB)", "trainable params", "storage (MB)"],
        bench.Select(b => new[] { b.Side, b.Method, F(b.TokensPerS, "0"), F(b.PeakGib, "0.0"), F(b.ResidentGib, "0.0"),
            b.Trainable is { } t ? t.ToString("N0", CultureInfo.InvariantCulture) : "--", F(b.StorageBytes / 1e6, "0.0") }).ToList());

    public static string EfficiencyTex(IReadOnlyList<BenchRow> bench)
    {
        var sb = new StringBuilder();
        sb.AppendLine(@"\begin{table}[t]").AppendLine(@"\centering").AppendLine(@"\small");
        sb.AppendLine(@"\begin{tabular}{llrrrrr}").AppendLine(@"\toprule");
        sb.AppendLine(@"Side & Method & Tokens/s & Peak GPU mem. (GiB) & Resident (GiB) & Trainable params & Storage (MB) \\").AppendLine(@"\midrule");
        foreach (var row in Efficiency(bench).Rows)
            sb.AppendLine(string.Join(" & ", row.Select(Latex)) + @" \\");
        sb.AppendLine(@"\bottomrule").AppendLine(@"\end{tabular}");
        sb.AppendLine(@"\caption{Efficiency on one GPU (random weights of the model shape; see docs/PERFORMANCE.md).}").AppendLine(@"\label{tab:efficiency}").AppendLine(@"\end{table}");
        return sb.ToString();
    }

    public static string EfficiencyMd(IReadOnlyList<BenchRow> bench) => Efficiency(bench).ToMarkdown();
}
