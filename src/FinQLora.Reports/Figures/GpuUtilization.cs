namespace FinQLora.Reports.Figures;

/// <summary>GPU memory (GiB, left) and utilization (%, right) over time, from gpu.jsonl.</summary>
public static class GpuUtilization
{
    /// <summary>True when some run has GPU samples (a CPU run has none: then the figure is left out).</summary>
    public static bool HasData(IReadOnlyList<RunData> runs) => runs.Any(r => r.Gpu.Count > 0);

    public static void Save(string path, IReadOnlyList<RunData> runs, string? banner = null)
    {
        var plot = Figure.New();
        double offset = 0;
        var memory = new List<double>();
        var minutes = new List<double>();
        foreach (var run in runs)
        {
            foreach (var g in run.Gpu.GroupBy(s => s.Gpu))
            {
                var samples = g.OrderBy(s => s.TimeS).ToList();
                var xs = samples.Select(s => (s.TimeS + offset) / 60).ToArray();
                minutes.AddRange(xs);
                var gib = samples.Select(s => (s.MemUsedMib ?? double.NaN) / 1024).ToArray();
                memory.AddRange(gib);
                var mem = plot.Add.Scatter(xs, gib);
                mem.LegendText = $"{run.Name} GPU {g.Key} memory";
                mem.MarkerSize = 0;
                var util = plot.Add.Scatter(xs, samples.Select(s => s.UtilPct ?? double.NaN).ToArray());
                util.Axes.YAxis = plot.Axes.Right;
                util.LegendText = $"{run.Name} GPU {g.Key} utilization";
                util.MarkerSize = 0;
                util.LinePattern = ScottPlot.LinePattern.Dotted;
            }
            if (run.Gpu.Count > 0) offset += run.Gpu.Max(s => s.TimeS);
        }
        Figure.Title(plot, "GPU memory and utilization", banner);
        plot.XLabel("time (minutes)");
        plot.YLabel("memory used (GiB)");
        plot.Axes.Right.Label.Text = "utilization (%)";
        Figure.FixedDecimals(plot.Axes.Left, memory);
        plot.Axes.Right.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v.ToString("0", System.Globalization.CultureInfo.InvariantCulture) };
        plot.Axes.SetLimitsY(0, 100, plot.Axes.Right);
        Figure.FixedDecimals(plot.Axes.Bottom, minutes);
        Figure.LegendBeside(plot);
        Figure.Save(plot, path, 9, 4);
    }
}
