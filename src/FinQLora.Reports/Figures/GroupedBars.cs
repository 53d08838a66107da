using System.Globalization;

namespace FinQLora.Reports.Figures;

/// <summary>Grouped bar charts: groups along x, one coloured series per label; missing values are left out.</summary>
internal static class GroupedBars
{
    public static void Save(string path, string title, string yLabel, IReadOnlyList<string> groups, IReadOnlyList<(string Label, double?[] Values)> series,
        string? banner = null, string? note = null)
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
                    bars.Add(new ScottPlot.Bar { Position = g - 0.4 + width * (s + 0.5), Value = v, Size = width * 0.95, FillColor = palette.GetColor(s), Label = ValueLabel(v) });
            plot.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = series[s].Label, FillColor = palette.GetColor(s) });
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 7;
        plot.Axes.SetLimitsY(0, Math.Max(1, bars.Select(b => b.Value).DefaultIfEmpty(0).Max()) * 1.1);   // headroom for the value labels
        if (note is not null) plot.Add.Annotation(note, ScottPlot.Alignment.UpperLeft);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(Enumerable.Range(0, groups.Count).Select(i => (double)i).ToArray(), groups.ToArray());
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v.ToString("0", CultureInfo.InvariantCulture) };
        plot.Axes.Margins(bottom: 0);
        Figure.Title(plot, title, banner);
        plot.YLabel(yLabel);
        Figure.LegendBeside(plot);
        Figure.Save(plot, path, 11, 4.4);
    }

    /// <summary>Whole numbers on every bar ("&lt;1" for a small non-zero value, which would otherwise read as 0).</summary>
    private static string ValueLabel(double v) => v is > 0 and < 1 ? "<1" : v.ToString("0", CultureInfo.InvariantCulture);
}
