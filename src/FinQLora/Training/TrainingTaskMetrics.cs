using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Config;
using FinQLora.Evaluation;
using FinQLora.Inference;
using FinQLora.Monitoring;
using FinQLora.Tasks;

namespace FinQLora.Training;

/// <summary>
/// logging.eval_tasks_every_steps and checkpoint.select_best for one stage: every N steps (and at the last) the adapter
/// as it is generates on the fixed subset of each task (<see cref="TaskMetricsProbe"/>, the evaluator's code), the
/// metrics go to the sinks (metrics.jsonl, TensorBoard, display), and with select_best a new best
/// (<see cref="BestAdapterPolicy"/>) is saved as OUTPUT/best-adapter, with <see cref="NoteFile"/> naming its step and
/// value. The folder is written beside and then swapped in, so it always holds one whole adapter. A resumed run
/// starts from the best recorded in the note, else in trainer_state.json (the note is newer when the interrupted run
/// found a best after its last checkpoint; that adapter was measured, so it stays the one to beat).
/// </summary>
public sealed class TrainingTaskMetrics
{
    public const string BestAdapterDir = "best-adapter";
    public const string NoteFile = "finqlora_best.json";

    private readonly string _stage;
    private readonly int _every;
    private readonly TaskMetricsProbe _probe;
    private readonly BestAdapterPolicy? _policy;
    private readonly string _bestDir;

    private TrainingTaskMetrics(string stage, int every, TaskMetricsProbe probe, BestAdapterPolicy? policy, string bestDir) =>
        (_stage, _every, _probe, _policy, _bestDir) = (stage, every, probe, policy, bestDir);

    public long? BestStep => _policy?.BestStep;
    public double? BestScore => _policy?.BestScore;

    public static string BestAdapterOf(string output) => Path.Combine(output, BestAdapterDir);

    /// <summary>Null when logging.eval_tasks_every_steps is 0; reads the subsets (refusing a missing split) before training starts.</summary>
    public static TrainingTaskMetrics? Create(TrainConfig cfg, long? bestStep, double? bestScore, Action<string> log)
    {
        var lg = cfg.Logging;
        if (lg.EvalTasksEverySteps <= 0) return null;
        var probe = TaskMetricsProbe.Load(cfg.Data.Dir, cfg.Data.Tasks.Select(FlareTasks.Get).ToList(), lg.EvalTasksSplit, lg.EvalTasksRows,
            lg.EvalTasksMaxNewTokens, Math.Max(cfg.Data.MaxLength, 512), cfg.Data.SystemPrompt);
        var bestDir = BestAdapterOf(cfg.Output);
        BestAdapterPolicy? policy = null;
        if (cfg.Checkpoint.SelectBest is { } spec)
        {
            var selector = TaskMetricSelector.Parse(spec, cfg.Data.Tasks).Selector!;   // validated with the config
            if (ReadNote(bestDir) is { } note && note.Selector == selector.ToString() && note.Step > (bestStep ?? 0))
            {
                log($"[{cfg.Stage}] {bestDir} holds the best adapter of step {note.Step} ({note.Selector} {note.Score:F4}), found after the checkpoint this run resumes from; it stays the one to beat");
                (bestStep, bestScore) = (note.Step, note.Score);
            }
            policy = new BestAdapterPolicy(selector, bestStep, bestScore);
        }
        log($"[{cfg.Stage}] task metrics every {lg.EvalTasksEverySteps} steps on {string.Join(", ", probe.Rows.Select(r => $"{r.Key} {r.Value}"))} {lg.EvalTasksSplit} rows" +
            (policy is null ? "" : $"; best adapter by {policy.Selector} in {bestDir}"));
        return new TrainingTaskMetrics(cfg.Stage, lg.EvalTasksEverySteps, probe, policy, bestDir);
    }

    public bool Due(long step, long total) => step % _every == 0 || step == total;

    /// <summary>Measures, logs to <paramref name="sinks"/>, and saves a new best through <paramref name="saveAdapter"/> (which writes a PEFT folder).</summary>
    public void Measure(long step, ModelBundle bundle, IMetricsSink sinks, Action<string> saveAdapter)
    {
        var metrics = _probe.Measure(bundle);
        bool best = _policy?.Offer(step, metrics) ?? false;
        if (best) SaveBest(step, _policy!.BestScore!.Value, saveAdapter);
        sinks.Tasks(new TaskMetrics(_stage, step, _probe.Rows, metrics, _policy?.Selector.ToString(), _policy?.Selector.Score(metrics), _policy is null ? null : best));
    }

    private void SaveBest(long step, double score, Action<string> saveAdapter)
    {
        var tmp = IO.AtomicFile.TemporaryPathFor(_bestDir);
        saveAdapter(tmp);
        IO.AtomicFile.WriteAllText(Path.Combine(tmp, NoteFile), new JsonObject
        {
            ["step"] = step, ["score"] = score, ["select_best"] = _policy!.Selector.ToString(),
        }.ToJsonString() + "\n");
        // swap by two renames: the old folder moves aside, the new one takes the name (a kill between them leaves both as .tmp- folders beside it)
        var old = IO.AtomicFile.TemporaryPathFor(_bestDir + ".old");
        if (Directory.Exists(_bestDir)) Directory.Move(_bestDir, old);
        Directory.Move(tmp, _bestDir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        IO.AtomicFile.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(_bestDir))!);
    }

    private sealed record Note(long Step, double Score, string Selector);

    private static Note? ReadNote(string dir)
    {
        var path = Path.Combine(dir, NoteFile);
        if (!File.Exists(path)) return null;
        using var doc = IO.JsonFile.Parse(IO.InputFile.ReadBytes(path, IO.JsonFile.MaxConfigBytes), path);
        var r = doc.RootElement;
        return r.TryGetProperty("step", out var s) && s.TryGetInt64(out var step) && r.TryGetProperty("score", out var v) && v.TryGetDouble(out var score)
            && r.TryGetProperty("select_best", out var sel) && sel.ValueKind == JsonValueKind.String
            ? new Note(step, score, sel.GetString()!) : null;
    }
}
