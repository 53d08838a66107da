namespace FinQLora.Evaluation;

/// <summary>
/// An evaluation's output folder: <c>predictions.jsonl</c>, <c>metrics.json</c>, <c>summary.md</c> and
/// <c>evaluation.json</c> (what was scored: <see cref="EvaluationInfo"/>), which belong together. A folder that already holds files is refused unless <c>overwrite</c> (as a run folder is,
/// exit code 2), so an earlier evaluation is never replaced by accident and a new metrics.json never ends up
/// beside older predictions. With overwrite those files are replaced (other files are left alone).
/// </summary>
public static class EvaluationFolder
{
    public const string Predictions = "predictions.jsonl";
    public const string Metrics = "metrics.json";
    public const string Summary = "summary.md";
    public const string Info = EvaluationInfo.FileName;
    public const int ExitCode = 2;

    /// <summary>Makes <paramref name="dir"/> ready before any work is done; throws with the fix when it holds files and <paramref name="overwrite"/> is false.</summary>
    public static void Prepare(string dir, bool overwrite)
    {
        if (File.Exists(dir)) throw new FinQLoraException($"--output {dir} is a file; give a folder for {Predictions}, {Metrics} and {Summary}", ExitCode);
        if (!overwrite && Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
            throw new FinQLoraException(
                $"the output folder {dir} already holds files (an earlier evaluation?): pass --overwrite to replace its {Predictions}, {Metrics} and {Summary}, or choose another folder (--output DIR)",
                ExitCode);
        Directory.CreateDirectory(dir);
    }

    /// <summary>
    /// Writes the predictions, then scores them and writes metrics.json and summary.md; returns the metrics
    /// and row counts. The old metrics and summary go first, so a crash in between never leaves metrics beside
    /// predictions they were not computed from.
    /// </summary>
    public static (SortedDictionary<string, SortedDictionary<string, double>> Metrics, Dictionary<string, int> Counts) Write(string dir, IReadOnlyList<Prediction> predictions, EvaluationInfo? info = null)
    {
        DeleteScores(dir);
        PredictionsFile.Write(Path.Combine(dir, Predictions), predictions);
        return Score(dir, predictions, info);
    }

    /// <summary>
    /// Re-scoring: <paramref name="predictionsPath"/>, read already as <paramref name="predictions"/>, is copied
    /// into the folder as predictions.jsonl (unless it is that file), then scored like <see cref="Write"/>.
    /// </summary>
    public static (SortedDictionary<string, SortedDictionary<string, double>> Metrics, Dictionary<string, int> Counts) Rescore(string dir, string predictionsPath, IReadOnlyList<Prediction> predictions)
    {
        var target = Path.Combine(dir, Predictions);
        // the settings of the evaluation that made the predictions, when they lie beside them
        var sourceDir = Path.GetDirectoryName(Path.GetFullPath(predictionsPath))!;
        var info = SameFile(sourceDir, dir) ? EvaluationInfo.Read(dir) : EvaluationInfo.Read(sourceDir);
        DeleteScores(dir);
        if (!SameFile(predictionsPath, target)) IO.AtomicFile.Write(target, s => { using var input = File.OpenRead(predictionsPath); input.CopyTo(s); });
        return Score(dir, predictions, info?.With("rescored_from", Path.GetFullPath(predictionsPath)));
    }

    private static (SortedDictionary<string, SortedDictionary<string, double>>, Dictionary<string, int>) Score(string dir, IReadOnlyList<Prediction> predictions, EvaluationInfo? info)
    {
        var metrics = FlareScorer.Score(predictions);
        var counts = predictions.GroupBy(p => p.Task).ToDictionary(g => g.Key, g => g.Count());
        info?.Write(dir);
        MetricsReport.Write(dir, metrics, counts);
        return (metrics, counts);
    }

    private static void DeleteScores(string dir)
    {
        foreach (var f in new[] { Metrics, Summary, Info }) File.Delete(Path.Combine(dir, f));
    }

    private static bool SameFile(string a, string b) => string.Equals(RealPath(a), RealPath(b), StringComparison.Ordinal);

    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full) ? File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full : full;
    }
}
