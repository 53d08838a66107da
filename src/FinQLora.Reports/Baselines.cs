namespace FinQLora.Reports;

/// <summary>
/// The numbers reported by the paper this project implements and by its baselines (shared/reference/flare.md),
/// as percentages, keyed by our task/metric names. SMP acc is compared with the mean accuracy over
/// acl18, bigdata22 and cikm18; FPB/FiQA-SA F1 with our weighted F1; NER with entity F1; QA with EM (acc).
/// </summary>
public static class Baselines
{
    public sealed record Column(string Label, string Task, string Metric);

    public static readonly IReadOnlyList<Column> Columns =
    [
        new("FinQA EM", "finqa", "acc"), new("ConvFinQA EM", "convfinqa", "acc"), new("FPB F1", "fpb", "f1"),
        new("FiQA-SA F1", "fiqasa", "f1"), new("SMP acc", "smp", "acc"), new("NER F1", "ner", "entity_f1"),
    ];

    public static readonly IReadOnlyDictionary<string, double[]> Reported = new Dictionary<string, double[]>
    {
        ["QLoRA Llama-3.1-8B-Instruct (paper)"] = [14.65, 40.40, 86.0, 76.0, 57.55, 59.3],
        ["FinMA-7B-Full"] = [4.0, 20.0, 87.0, 79.0, 54.5, 69.0],
        ["FinMA-30B"] = [11.0, 40.0, 88.0, 87.0, 46.0, 62.0],
        ["GPT-4"] = [76.0, 76.0, 86.0, 88.0, 54.5, 83.0],
    };

    /// <summary>Our value for a column in percent, from metrics.json ({task: {metric: fraction}}), or null.</summary>
    public static double? Ours(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> metrics, Column c)
    {
        if (c.Task == "smp")
        {
            var accs = new[] { "acl18", "bigdata22", "cikm18" }.Where(metrics.ContainsKey).Select(t => metrics[t].GetValueOrDefault("acc", double.NaN)).Where(double.IsFinite).ToList();
            return accs.Count == 0 ? null : 100 * accs.Average();
        }
        return metrics.TryGetValue(c.Task, out var m) && m.TryGetValue(c.Metric, out var v) ? 100 * v : null;
    }
}
