using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Data;

/// <summary>Token-length statistics of one task and split: full (untruncated) prompt + answer + eot lengths.</summary>
public sealed record SplitStats(string Task, string Split, int Rows, int P50, int P95, int Max, int Truncated, int MaxLength, IReadOnlyList<int> Lengths);

/// <summary>
/// Tokenizes every row of a prepared data folder the way training does (chat-wrapped query, answer,
/// &lt;|eot_id|&gt;) and reports lengths per task and split: p50/p95 by the nearest-rank method, the
/// maximum, and how many rows exceed <c>maxLength</c> (those training would truncate or drop).
/// </summary>
public static class DataStats
{
    public static List<SplitStats> Compute(string dataDir, LlamaTokenizer tokenizer, int maxLength, string? systemPrompt = null, int limit = 0, IReadOnlyList<FlareTask>? tasks = null)
    {
        if (!Directory.Exists(dataDir)) throw new FinQLoraException($"--data {dataDir}: folder not found");
        var encoder = new PromptEncoder(tokenizer, int.MaxValue, TruncationMode.Drop, systemPrompt);
        var result = new List<SplitStats>();
        foreach (var task in tasks ?? FlareTasks.All)
            foreach (var split in DatasetPreparer.SplitNames)
            {
                var rows = DatasetPreparer.ReadPrepared(dataDir, task, split);
                if (rows is null) continue;
                if (limit > 0) rows = rows.Take(limit).ToList();
                var lengths = rows.Select(r => encoder.Encode(r)!.InputIds.Length).ToList();
                result.Add(Summarize(task.Name, split, lengths, maxLength));
            }
        if (result.Count == 0) throw new FinQLoraException($"{dataDir}: no <task>/<split>.jsonl files (run prepare-data first)");
        return result;
    }

    public static SplitStats Summarize(string task, string split, IReadOnlyList<int> lengths, int maxLength)
    {
        var sorted = lengths.Order().ToArray();
        return new SplitStats(task, split, sorted.Length, Percentile(sorted, 50), Percentile(sorted, 95), sorted.Length == 0 ? 0 : sorted[^1],
            sorted.Count(n => n > maxLength), maxLength, lengths);
    }

    /// <summary>Nearest rank: the smallest value with at least p% of the values at or below it.</summary>
    public static int Percentile(int[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p / 100 * sorted.Length) - 1, 0, sorted.Length - 1)];
}
