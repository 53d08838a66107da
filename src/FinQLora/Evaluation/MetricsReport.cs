using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Evaluation;

/// <summary>metrics.json ({task: {metric: value}}) and the summary table (Markdown, and plain text for the console).</summary>
public static class MetricsReport
{
    public static void Write(string dir, SortedDictionary<string, SortedDictionary<string, double>> metrics, IReadOnlyDictionary<string, int> rowCounts)
    {
        Directory.CreateDirectory(dir);
        var json = new JsonObject(metrics.Select(t => KeyValuePair.Create(t.Key, (JsonNode?)new JsonObject(t.Value.Select(m => KeyValuePair.Create(m.Key, (JsonNode?)Math.Round(m.Value, 6)))))));
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "metrics.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        IO.AtomicFile.WriteAllText(Path.Combine(dir, "summary.md"), Markdown(metrics, rowCounts));
    }

    public static string Markdown(SortedDictionary<string, SortedDictionary<string, double>> metrics, IReadOnlyDictionary<string, int> rowCounts)
    {
        var sb = new StringBuilder("| task | rows | metrics |\n|---|---:|---|\n");
        foreach (var (task, m) in metrics)
            sb.Append($"| {task} | {rowCounts.GetValueOrDefault(task)} | {string.Join(", ", m.Select(x => $"{x.Key} {x.Value.ToString("0.0000", CultureInfo.InvariantCulture)}"))} |\n");
        sb.Append("\nValues are fractions (0-1). `num_acc` is FinQLora's numeric-tolerance accuracy (1 %), not a FLARE metric; FLARE's QA metric is `acc` (exact match).\n");
        return sb.ToString();
    }
}
