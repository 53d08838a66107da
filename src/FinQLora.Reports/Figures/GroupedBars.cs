namespace FinQLora.Reports.Figures;

/// <summary>Grouped bar charts: groups along x, one coloured series per label; missing values are left out (noted).</summary>
internal static class GroupedBars
{
    public static void Save(string path, string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<(string Label, double?[] Values)> series, string? note = null)
    {
        var plot = Figure.New();
        var palette = new ScottPlot.Palettes.Category10();
        int n = Math.Max(1, series.Count);
        double width = 0.8 / n;
        var bars = new List<ScottPlot.Bar>();
        for (int s = 0; s < series.Count; s++)
        {
            for (int g = 0; g < groups.Count; g++)
                if (series[s].Values[g] is { } v && double.IsFinite(v))
                    bars.Add(new ScottPlot.Bar { Position = g - 0.4 + width * (s + 0.5), Value = v, Size = width * 0.95, FillColor = palette.GetColor(s), Label = v.ToString(v < 1 ? "0.##" : "0", System.Globalization.CultureInfo.InvariantCulture) });
            var legend = plot.Legend.ManualItems;
            legend.Add(new ScottPlot.LegendItem { LabelText = series[s].Label, FillColor = palette.GetColor(s) });
        }
        if (bars.Count > 0)
        {
            var barPlot = plot.Add.Bars(bars);
            barPlot.ValueLabelStyle.FontSize = 7;
            plot.Axes.SetLimitsY(0, bars.Max(b => b.Value) * 1.1);   // headroom for the value labels
        }
        else Figure.Note(plot, "no values to compare");
        if (note is not null) plot.Add.Annotation(note, ScottPlot.Alignment.UpperLeft);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.ToArray());
        plot.Axes.Margins(bottom: 0);
        plot.Title(title);
        plot.YLabel(yLabel);
        plot.ShowLegend(ScottPlot.Edge.Right);   // beside the plot, never over the bars
        Figure.Save(plot, path, 9.5, 4.2);
    }
}
