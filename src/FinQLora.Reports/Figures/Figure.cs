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

    public static void Save(ScottPlot.Plot plot, string path, double widthIn = 6.4, double heightIn = 4)
    {
        plot.SavePng(path, (int)(widthIn * Dpi), (int)(heightIn * Dpi));
        Png.SetDpi(path, Dpi);
    }
}
