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

    /// <summary>The stock-movement tasks the paper's SMP column averages, with their names in the paper.</summary>
    public static readonly IReadOnlyList<(string Task, string Name)> SmpParts = [("acl18", "ACL18"), ("bigdata22", "BigData22"), ("cikm18", "CIKM18")];

    /// <summary>The SMP tasks that <paramref name="metrics"/> holds an accuracy for: what our SMP value averages.</summary>
    public static IReadOnlyList<(string Task, string Name)> SmpPresent(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> metrics) =>
        SmpParts.Where(p => metrics.TryGetValue(p.Task, out var m) && m.TryGetValue("acc", out var a) && double.IsFinite(a)).ToList();

    /// <summary>Our value for a column in percent, from metrics.json ({task: {metric: fraction}}), or null.</summary>
    public static double? Ours(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> metrics, Column c)
    {
        if (c.Task == "smp")
        {
            var present = SmpPresent(metrics);
            return present.Count == 0 ? null : 100 * present.Average(p => metrics[p.Task]["acc"]);
        }
        return metrics.TryGetValue(c.Task, out var m) && m.TryGetValue(c.Metric, out var v) ? 100 * v : null;
    }
}
