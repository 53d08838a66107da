namespace FinQLora.Reports.Figures;

/// <summary>GPU memory (GiB, left) and utilization (%, right) over time, from gpu.jsonl.</summary>
public static class GpuUtilization
{
    public static void Save(string path, IReadOnlyList<RunData> runs)
    {
        var plot = Figure.New();
        double offset = 0;
        bool any = false;
        foreach (var run in runs)
        {
            foreach (var g in run.Gpu.GroupBy(s => s.Gpu))
            {
                var samples = g.OrderBy(s => s.TimeS).ToList();
                var xs = samples.Select(s => (s.TimeS + offset) / 60).ToArray();
                var mem = plot.Add.Scatter(xs, samples.Select(s => (s.MemUsedMib ?? double.NaN) / 1024).ToArray());
                mem.LegendText = $"{run.Name} GPU {g.Key} memory";
                mem.MarkerSize = 0;
                var util = plot.Add.Scatter(xs, samples.Select(s => s.UtilPct ?? double.NaN).ToArray());
                util.Axes.YAxis = plot.Axes.Right;
                util.LegendText = $"{run.Name} GPU {g.Key} utilization";
                util.MarkerSize = 0;
                util.LinePattern = ScottPlot.LinePattern.Dotted;
                any = true;
            }
            if (run.Gpu.Count > 0) offset += run.Gpu.Max(s => s.TimeS);
        }
        if (!any) Figure.Note(plot, "no GPU samples (gpu.jsonl): CPU run or no NVIDIA driver");
        plot.Title("GPU memory and utilization");
        plot.XLabel("time (minutes)");
        plot.YLabel("memory used (GiB)");
        plot.Axes.Right.Label.Text = "utilization (%)";
        if (any) plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        Figure.Save(plot, path);
    }
}
