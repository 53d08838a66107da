namespace FinQLora.Reports;

/// <summary>
/// The warning every report output carries when a model it shows has random weights (the quickstart's tiny
/// model): its scores show the pipeline working and must not be read as results or compared with the paper's.
/// </summary>
public static class RandomWeightsBanner
{
    /// <summary>The short form, under each figure's title.</summary>
    public const string Short = "RANDOM WEIGHTS: these scores are meaningless";

    /// <summary>The full sentence for results.md, results.tex and report.html, or null when no model shown has random weights.</summary>
    public static string? For(IReadOnlyList<ResultsData> results, IReadOnlyList<RunData> runs)
    {
        var names = results.Where(r => r.RandomWeights).Select(r => r.Label)
            .Concat(runs.Where(r => r.RandomWeights).Select(r => $"run {r.Name}")).Distinct().ToList();
        if (names.Count == 0) return null;
        return $"RANDOM WEIGHTS: {string.Join(", ", names)} {(names.Count == 1 ? "uses" : "use")} a model with random weights " +
               "(the quickstart's tiny model, never trained on text). Its scores only show the pipeline working: they are meaningless " +
               "and must not be compared with the reported numbers.";
    }
}
