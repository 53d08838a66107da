using System.Globalization;
using System.Text;

namespace FinQLora.Reports;

/// <summary>results.tex / efficiency.tex (booktabs) and results.md.</summary>
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

    private static List<(string Name, double?[] Values)> ResultRows(IReadOnlyList<ResultsData> results) =>
        results.Select(r => ($"FinQLora ({Path.GetFileName(Path.GetFullPath(r.Dir).TrimEnd('/'))})", Baselines.Columns.Select(c => Baselines.Ours(r.Metrics, c)).ToArray()))
            .Concat(Baselines.Reported.Select(kv => (kv.Key, kv.Value.Select(v => (double?)v).ToArray()))).ToList();

    public static string ResultsTex(IReadOnlyList<ResultsData> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine(@"\begin{table}[t]").AppendLine(@"\centering").AppendLine(@"\small");
        sb.AppendLine(@"\begin{tabular}{l" + new string('r', Baselines.Columns.Count) + "}").AppendLine(@"\toprule");
        sb.AppendLine("Model & " + string.Join(" & ", Baselines.Columns.Select(c => Latex(c.Label))) + @" \\").AppendLine(@"\midrule");
        foreach (var (name, values) in ResultRows(results))
            sb.AppendLine(Latex(name) + " & " + string.Join(" & ", values.Select(v => F(v)).ToArray()) + @" \\");
        sb.AppendLine(@"\bottomrule").AppendLine(@"\end{tabular}");
        sb.AppendLine(@"\caption{FLARE results (\%). SMP acc is the mean accuracy over ACL18, BigData22 and CIKM18.}").AppendLine(@"\label{tab:results}").AppendLine(@"\end{table}");
        return sb.ToString();
    }

    public static string ResultsMd(IReadOnlyList<ResultsData> results)
    {
        var sb = new StringBuilder("| Model | " + string.Join(" | ", Baselines.Columns.Select(c => c.Label)) + " |\n|---|" + string.Concat(Baselines.Columns.Select(_ => "---:|")) + "\n");
        foreach (var (name, values) in ResultRows(results))
            sb.Append($"| {name} | {string.Join(" | ", values.Select(v => F(v)))} |\n");
        sb.Append("\nScores in %. SMP acc = mean accuracy over ACL18, BigData22, CIKM18; FPB/FiQA-SA F1 = weighted F1; QA = exact match.\n");
        return sb.ToString();
    }

    public static string EfficiencyTex(IReadOnlyList<BenchRow> bench)
    {
        var sb = new StringBuilder();
        sb.AppendLine(@"\begin{table}[t]").AppendLine(@"\centering").AppendLine(@"\small");
        sb.AppendLine(@"\begin{tabular}{llrrrrr}").AppendLine(@"\toprule");
        sb.AppendLine(@"Side & Method & Tokens/s & Peak GPU mem. (GiB) & Resident (GiB) & Trainable params & Storage (MB) \\").AppendLine(@"\midrule");
        foreach (var b in bench)
            sb.AppendLine($@"{Latex(b.Side)} & {Latex(b.Method)} & {F(b.TokensPerS, "0")} & {F(b.PeakGib, "0.0")} & {F(b.ResidentGib, "0.0")} & {(b.Trainable is { } t ? t.ToString("N0", CultureInfo.InvariantCulture) : "--")} & {F(b.StorageBytes / 1e6, "0.0")} \\");
        sb.AppendLine(@"\bottomrule").AppendLine(@"\end{tabular}");
        sb.AppendLine(@"\caption{Efficiency on one GPU (random weights of the model shape; see docs/PERFORMANCE.md).}").AppendLine(@"\label{tab:efficiency}").AppendLine(@"\end{table}");
        return sb.ToString();
    }

    public static string EfficiencyMd(IReadOnlyList<BenchRow> bench)
    {
        var sb = new StringBuilder("| side | method | tokens/s | peak GPU mem (GiB) | resident (GiB) | trainable params | storage (MB) |\n|---|---|---:|---:|---:|---:|---:|\n");
        foreach (var b in bench)
            sb.Append($"| {b.Side} | {b.Method} | {F(b.TokensPerS, "0")} | {F(b.PeakGib, "0.0")} | {F(b.ResidentGib, "0.0")} | {(b.Trainable is { } t ? t.ToString("N0", CultureInfo.InvariantCulture) : "--")} | {F(b.StorageBytes / 1e6, "0.0")} |\n");
        return sb.ToString();
    }
}
