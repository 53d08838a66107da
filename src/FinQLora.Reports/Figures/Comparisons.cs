namespace FinQLora.Reports.Figures;

/// <summary>Our FLARE scores beside the paper's and its baselines'; efficiency of full fine-tuning, LoRA and QLoRA.</summary>
public static class Comparisons
{
    /// <summary>One bar series per evaluation (named by its label), then the reported numbers.</summary>
    public static void Performance(string path, IReadOnlyList<ResultsData> results, string? banner = null)
    {
        var groups = Baselines.Columns.Select(c => c.Label).ToList();
        var series = new List<(string, double?[])>();
        foreach (var r in results)
            series.Add((r.Label, Baselines.Columns.Select(c => Baselines.Ours(r.Metrics, c)).ToArray()));
        foreach (var (name, values) in Baselines.Reported) series.Add((name, values.Select(v => (double?)v).ToArray()));
        GroupedBars.Save(path, "FLARE results: FinQLora vs. reported", "score (%)", groups, series, banner);
    }

    /// <summary>True when some bench row is FinQLora's own full, lora or qlora measurement (what the efficiency figure draws).</summary>
    public static bool HasEfficiencyData(IReadOnlyList<BenchRow> bench) => bench.Any(b => b.Side == "finqlora" && b.Method is "full" or "lora" or "qlora");

    /// <summary>Four measures per method, each shown relative to the largest (labels in the tables hold the numbers).</summary>
    public static void Efficiency(string path, IReadOnlyList<BenchRow> bench)
    {
        var methods = new[] { "full", "lora", "qlora" };
        var ours = methods.Select(m => bench.FirstOrDefault(b => b.Method == m && b.Side == "finqlora")).ToArray();
        string[] groups = ["peak GPU memory", "trainable params", "storage", "tokens/s"];
        Func<BenchRow?, double?>[] measures = [b => b?.PeakGib, b => b?.Trainable, b => b?.StorageBytes, b => b?.TokensPerS];
        var series = new List<(string, double?[])>();
        for (int m = 0; m < methods.Length; m++)
        {
            var values = new double?[groups.Length];
            for (int g = 0; g < groups.Length; g++)
            {
                double max = ours.Select(measures[g]).Where(v => v is > 0).Select(v => v!.Value).DefaultIfEmpty(0).Max();
                values[g] = measures[g](ours[m]) is { } v && max > 0 ? 100 * v / max : null;
            }
            series.Add((methods[m] + (ours[m] is null ? " (not measured)" : ""), values));
        }
        GroupedBars.Save(path, "Efficiency: full fine-tuning vs. LoRA vs. QLoRA", "% of the largest", groups, series);
    }
}
