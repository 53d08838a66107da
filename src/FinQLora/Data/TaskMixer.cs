namespace FinQLora.Data;

/// <summary>How the tasks of a stage share its examples: in proportion to their sizes, or by temperature sampling.</summary>
public enum MixingMode { Proportional, Temperature }

/// <summary>
/// Mixes several tasks' examples into one epoch. Proportional keeps every example once. Temperature
/// sampling draws each task with probability ∝ n_i^(1/T) (T = 1 is proportional, larger T flattens
/// towards uniform), over as many draws as there are examples, sampling within a task without
/// replacement and starting over when a small task runs out. Deterministic for a seed.
/// </summary>
public static class TaskMixer
{
    public static List<TokenizedExample> Mix(IReadOnlyDictionary<string, List<TokenizedExample>> byTask, MixingMode mode, double temperature, long seed)
    {
        var tasks = byTask.Where(kv => kv.Value.Count > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
        if (mode == MixingMode.Proportional || tasks.Count <= 1) return tasks.SelectMany(kv => kv.Value).ToList();
        if (temperature <= 0) throw new FinQLoraException($"data.temperature must be > 0, got {temperature}");
        var rng = new Random(unchecked((int)seed) ^ 0x5f3759df);
        var weights = tasks.Select(kv => Math.Pow(kv.Value.Count, 1.0 / temperature)).ToArray();
        double total = weights.Sum();
        int draws = tasks.Sum(kv => kv.Value.Count);
        var cursors = new int[tasks.Count];
        var orders = tasks.Select(kv => kv.Value.OrderBy(_ => rng.Next()).ToList()).ToList();
        var result = new List<TokenizedExample>(draws);
        for (int d = 0; d < draws; d++)
        {
            double u = rng.NextDouble() * total;
            int t = 0;
            while (t < weights.Length - 1 && (u -= weights[t]) > 0) t++;
            if (cursors[t] == orders[t].Count) { orders[t] = orders[t].OrderBy(_ => rng.Next()).ToList(); cursors[t] = 0; }
            result.Add(orders[t][cursors[t]++]);
        }
        return result;
    }
}
