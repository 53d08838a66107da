namespace FinQLora.Reports.Figures;

/// <summary>
/// Token-length histogram of prompt+answer sequences, one line per series (a task or task/split),
/// with the training max length marked, the legend beside the plot: 9 × 4 in at 300 DPI (2700 × 1200 px).
/// </summary>
public static class LengthHistogram
{
    public sealed record Series(string Label, IReadOnlyList<int> Lengths);

    public const int Dpi = 300;

    public static void Save(string path, IReadOnlyList<Series> series, int? maxLength = null, int bins = 50, string title = "Token length per example")
    {
        var nonEmpty = series.Where(s => s.Lengths.Count > 0).ToList();
        if (nonEmpty.Count == 0) throw new FinQLoraException("no lengths to plot");
        int top = Math.Max(nonEmpty.Max(s => s.Lengths.Max()), maxLength ?? 0);
        double width = Math.Max(1, Math.Ceiling((top + 1) / (double)bins));
        var centers = Enumerable.Range(0, bins).Select(b => (b + 0.5) * width).ToArray();
        var plot = new ScottPlot.Plot();
        plot.ScaleFactor = Dpi / 96f;
        foreach (var s in nonEmpty)
        {
            var counts = new double[bins];
            foreach (var n in s.Lengths) counts[Math.Min(bins - 1, (int)(n / width))]++;
            var line = plot.Add.Scatter(centers, counts.Select(c => 100.0 * c / s.Lengths.Count).ToArray());
            line.LegendText = $"{s.Label} (n={s.Lengths.Count})";
            line.MarkerSize = 0;
            line.LineWidth = 1.5f;
        }
        if (maxLength is int m)
        {
            var v = plot.Add.VerticalLine(m);
            v.LegendText = $"max length {m}";
            v.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Title(title);
        plot.XLabel("tokens (prompt + answer + <|eot_id|>)");
        plot.YLabel("% of rows");
        Figure.LegendBeside(plot);
        Figure.Save(plot, path, 9, 4);
    }
}
