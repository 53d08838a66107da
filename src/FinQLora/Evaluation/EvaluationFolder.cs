namespace FinQLora.Evaluation;

/// <summary>
/// An evaluation's output folder: <c>predictions.jsonl</c>, <c>metrics.json</c> and <c>summary.md</c>, which
/// belong together, and, for an evaluation with a model, <c>evaluation.json</c> (<see cref="EvaluationManifest"/>).
/// A folder that already holds files is refused unless <c>overwrite</c> (as a run folder is, exit code 2), so an
/// earlier evaluation is never replaced by accident and a new metrics.json never ends up beside older
/// predictions. With overwrite those files are replaced (other files are left alone). An evaluation with a model
/// appends its predictions batch by batch (<see cref="Begin"/>) and writes the metrics last, so a folder with
/// evaluation.json and no metrics.json is an unfinished evaluation that can be resumed (<see cref="StateOf"/>).
/// </summary>
public static class EvaluationFolder
{
    public const string Predictions = "predictions.jsonl";
    public const string Metrics = "metrics.json";
    public const string Summary = "summary.md";
    public const string Info = EvaluationInfo.FileName;
    public const int ExitCode = 2;

    /// <summary>What a folder holds, seen from an evaluation with given settings.</summary>
    public enum State
    {
        /// <summary>No evaluation.json (absent, empty, or another kind of folder).</summary>
        None,
        /// <summary>An evaluation with other settings.</summary>
        Other,
        /// <summary>This evaluation, interrupted: its predictions so far, no metrics.</summary>
        Unfinished,
        /// <summary>This evaluation, finished: metrics.json is written.</summary>
        Finished,
    }

    /// <summary>What <paramref name="dir"/> holds for an evaluation described by <paramref name="manifest"/>; <paramref name="differences"/> lists what changed when Other.</summary>
    public static State StateOf(string dir, EvaluationManifest manifest, out IReadOnlyList<string> differences)
    {
        differences = [];
        if (!Directory.Exists(dir) || EvaluationManifest.Read(dir) is not { } saved) return State.None;
        differences = saved.Differences(manifest);
        if (differences.Count > 0) return State.Other;
        return File.Exists(Path.Combine(dir, Metrics)) ? State.Finished : State.Unfinished;
    }

    /// <summary>
    /// The folder of an evaluation that <paramref name="resume"/>s (its predictions so far are read back) or
    /// starts (predictions.jsonl, metrics.json, summary.md and evaluation.json are replaced: the old ones deleted
    /// first, then the manifest written, then an empty predictions.jsonl, so an interruption never leaves a manifest
    /// beside predictions of other settings). Leftover temporary files of an interrupted write are removed.
    /// </summary>
    public static PredictionsLog Begin(string dir, EvaluationManifest manifest, bool resume, Action<string>? log = null)
    {
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(dir).Where(IO.AtomicFile.IsTemporary)) File.Delete(f);
        if (!resume)
        {
            foreach (var f in new[] { Metrics, Summary, Predictions, EvaluationManifest.FileName }) File.Delete(Path.Combine(dir, f));
            manifest.Write(dir);
        }
        return PredictionsLog.Open(Path.Combine(dir, Predictions), resume, log);
    }

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
    /// Writes the predictions (in task and data order, replacing the file the batches were appended to), then scores them and writes metrics.json and summary.md; returns the metrics
    /// and row counts. The old metrics and summary go first, so a crash in between never leaves metrics beside
    /// predictions they were not computed from.
    /// </summary>
    public static (SortedDictionary<string, SortedDictionary<string, double>> Metrics, Dictionary<string, int> Counts) Write(string dir, IReadOnlyList<Prediction> predictions)
    {
        DeleteScores(dir);
        PredictionsFile.Write(Path.Combine(dir, Predictions), predictions);
        return Score(dir, predictions, info: null);   // evaluation.json was written when the evaluation began
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
        File.Delete(Path.Combine(dir, Info));   // it described the folder's earlier predictions; rewritten below from the source's
        if (!SameFile(predictionsPath, target)) IO.AtomicFile.Write(target, s => { using var input = IO.InputFile.OpenRead(predictionsPath); input.CopyTo(s); });
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
        foreach (var f in new[] { Metrics, Summary }) File.Delete(Path.Combine(dir, f));
    }

    private static bool SameFile(string a, string b) => string.Equals(RealPath(a), RealPath(b), StringComparison.Ordinal);

    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        return File.Exists(full) ? File.ResolveLinkTarget(full, returnFinalTarget: true)?.FullName ?? full : full;
    }
}
