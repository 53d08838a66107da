using System.Text.Json.Nodes;
using FinQLora.Evaluation;

namespace FinQLora.Reports;

/// <summary>
/// One evaluation folder: its metrics.json, and its evaluation.json when present (what model, adapters and data
/// were scored, how many rows per task). <see cref="Label"/> names the row in tables and figures.
/// </summary>
public sealed record ResultsData(string Dir, IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Metrics, EvaluationInfo? Info = null, string? GivenLabel = null,
    IReadOnlyDictionary<string, int>? RowCounts = null)
{
    /// <summary>--label when given, else the model and adapters from evaluation.json, else the folder's name.</summary>
    public string Label => GivenLabel ?? Info?.Label() ?? $"FinQLora ({Path.GetFileName(Path.GetFullPath(Dir).TrimEnd('/'))})";

    public bool RandomWeights => Info?.RandomWeights == true;

    /// <summary>Rows scored for <paramref name="task"/> (lines of predictions.jsonl), or null without that file.</summary>
    public int? Rows(string task) => RowCounts is { } rows && rows.TryGetValue(task, out var n) ? n : null;

    public static ResultsData Load(string dir, string? label = null)
    {
        var path = File.Exists(dir) ? dir : Path.Combine(dir, EvaluationFolder.Metrics);
        if (!File.Exists(path)) throw new FinQLoraException($"--results {dir}: no metrics.json");
        var o = IO.JsonFile.ReadObject(path);
        var m = o.ToDictionary(kv => kv.Key, kv => (IReadOnlyDictionary<string, double>)(kv.Value as JsonObject ?? [])
            .Where(x => x.Value is JsonValue v && v.TryGetValue<double>(out _)).ToDictionary(x => x.Key, x => x.Value!.GetValue<double>()));
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return new ResultsData(dir, m, EvaluationInfo.Read(folder), label, CountRows(Path.Combine(folder, EvaluationFolder.Predictions)));
    }

    /// <summary>Lines per task of predictions.jsonl (its "task" field only), or null when there is none.</summary>
    private static SortedDictionary<string, int>? CountRows(string predictions)
    {
        if (!File.Exists(predictions)) return null;
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (_, line) in IO.LineReader.Read(predictions))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (IO.JsonFile.ParseNode(line) is JsonObject o && o["task"] is JsonValue v && v.TryGetValue<string>(out var task))
                    counts[task] = counts.GetValueOrDefault(task) + 1;
            }
            catch (System.Text.Json.JsonException) { }   // a torn line of an interrupted evaluation counts for nothing
        }
        return counts;
    }
}
