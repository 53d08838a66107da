using System.Globalization;

namespace FinQLora.Reports.Figures;

/// <summary>
/// Common figure settings: 300 DPI PNGs with the resolution recorded in the file; a title that carries the
/// random-weights warning when it applies; tick labels in one number format per axis; legends beside the data.
/// </summary>
internal static class Figure
{
    public const int Dpi = 300;

    public static ScottPlot.Plot New()
    {
        var plot = new ScottPlot.Plot();
        plot.ScaleFactor = Dpi / 96f;
        return plot;
    }

    /// <summary>The title; with <paramref name="banner"/> (random weights) a second line under it, and the title in dark red.</summary>
    public static void Title(ScottPlot.Plot plot, string title, string? banner)
    {
        plot.Title(banner is null ? title : $"{title}\n{banner}");
        if (banner is not null) plot.Axes.Title.Label.ForeColor = ScottPlot.Color.FromHex("#b00020");
    }

    /// <summary>The legend outside the data area, on the right, so it never covers a curve or a bar.</summary>
    public static void LegendBeside(ScottPlot.Plot plot) => plot.ShowLegend(ScottPlot.Edge.Right);

    /// <summary>
    /// Tick labels with the same number of decimals on the whole axis (enough for a fifth of the data's range),
    /// instead of ScottPlot's shortest form per tick ("12", "12.1").
    /// </summary>
    public static void FixedDecimals(ScottPlot.IAxis axis, IEnumerable<double> values)
    {
        var finite = values.Where(double.IsFinite).ToList();
        double range = finite.Count == 0 ? 1 : finite.Max() - finite.Min();
        int decimals = range > 0 ? Math.Clamp((int)Math.Ceiling(-Math.Log10(range / 5)), 0, 6) : 1;
        var format = decimals == 0 ? "0" : "0." + new string('0', decimals);
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v.ToString(format, CultureInfo.InvariantCulture) };
    }

    /// <summary>Tick labels in one scientific format (2.0e-04), for values such as learning rates; zero is "0".</summary>
    public static void Scientific(ScottPlot.IAxis axis) =>
        axis.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
        {
            LabelFormatter = v => Math.Abs(v) < 1e-15 ? "0" : v.ToString("0.0e+00", CultureInfo.InvariantCulture),
        };

    /// <summary>Renders and writes the PNG (atomically: a reader never sees half a figure).</summary>
    public static void Save(ScottPlot.Plot plot, string path, double widthIn = 6.4, double heightIn = 4)
    {
        using var image = plot.GetImage((int)(widthIn * Dpi), (int)(heightIn * Dpi));
        IO.AtomicFile.WriteAllBytes(path, Png.WithDpi(image.GetImageBytes(ScottPlot.ImageFormat.Png), Dpi, path));
    }
}
