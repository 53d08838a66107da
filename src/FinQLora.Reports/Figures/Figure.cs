namespace FinQLora.Reports.Figures;

/// <summary>Common figure settings: 300 DPI PNGs of 6.4 × 4 inches, with the resolution recorded in the file.</summary>
internal static class Figure
{
    public const int Dpi = 300;

    public static ScottPlot.Plot New()
    {
        var plot = new ScottPlot.Plot();
        plot.ScaleFactor = Dpi / 96f;
        return plot;
    }

    /// <summary>A figure with no data still explains itself instead of failing.</summary>
    public static void Note(ScottPlot.Plot plot, string text) => plot.Add.Annotation(text, ScottPlot.Alignment.MiddleCenter);

    /// <summary>Renders and writes the PNG (atomically: a reader never sees half a figure).</summary>
    public static void Save(ScottPlot.Plot plot, string path, double widthIn = 6.4, double heightIn = 4)
    {
        using var image = plot.GetImage((int)(widthIn * Dpi), (int)(heightIn * Dpi));
        IO.AtomicFile.WriteAllBytes(path, Png.WithDpi(image.GetImageBytes(ScottPlot.ImageFormat.Png), Dpi, path));
    }
}
