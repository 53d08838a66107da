using FinQLora.Data;
using FinQLora.Inference;
using FinQLora.Tasks;

namespace FinQLora.Evaluation;

/// <summary>
/// The FLARE metrics of a model on a fixed subset of each task's rows (the first N rows of a split, read once), for
/// training (logging.eval_tasks_every_steps). Generation and scoring are the evaluator's own
/// (<see cref="Evaluator.RunTask"/>, <see cref="FlareScorer"/>): `finqlora evaluate --data DIR --limit N` with the same
/// adapter, split and settings gives the same numbers.
/// </summary>
public sealed class TaskMetricsProbe
{
    private readonly IReadOnlyList<(FlareTask Task, List<FlareRow> Rows)> _subsets;
    private readonly EvaluationSettings _settings;

    private TaskMetricsProbe(IReadOnlyList<(FlareTask, List<FlareRow>)> subsets, EvaluationSettings settings) => (_subsets, _settings) = (subsets, settings);

    /// <summary>Rows per task in the subset.</summary>
    public IReadOnlyDictionary<string, int> Rows => _subsets.ToDictionary(s => s.Task.Name, s => s.Rows.Count);

    /// <summary>
    /// Reads the first <paramref name="rows"/> rows of <paramref name="split"/> of each task in <paramref name="dataDir"/>;
    /// every task without that split (or with no rows) is named in one error, before anything is trained.
    /// </summary>
    public static TaskMetricsProbe Load(string dataDir, IReadOnlyList<FlareTask> tasks, string split, int rows, int maxNewTokens, int maxLength, string? systemPrompt)
    {
        var subsets = tasks.Select(t => (t, (DatasetPreparer.ReadPrepared(dataDir, t, split) ?? []).Take(rows).ToList())).ToList();
        var empty = subsets.Where(s => s.Item2.Count == 0).Select(s => s.t.Name).ToList();
        if (empty.Count > 0)
            throw new FinQLoraException($"logging.eval_tasks_every_steps: {dataDir} has no {split} rows for {string.Join(", ", empty)} " +
                $"({string.Join(", ", empty.Select(n => $"{n}/{split}.jsonl"))}); set logging.eval_tasks_split to a split the data has (e.g. test for samples/), or logging.eval_tasks_every_steps: 0");
        return new TaskMetricsProbe(subsets, new EvaluationSettings(tasks, dataDir, rows, MaxNewTokens: maxNewTokens, SystemPrompt: systemPrompt, MaxLength: maxLength, Split: split));
    }

    /// <summary>{task: {metric: value}} of <paramref name="bundle"/>'s model as it is now (in eval mode while it generates, then back to the mode it was in).</summary>
    public SortedDictionary<string, SortedDictionary<string, double>> Measure(ModelBundle bundle)
    {
        bool training = bundle.Model.training;
        bundle.Model.eval();
        try
        {
            return FlareScorer.Score(_subsets.SelectMany(s => Evaluator.RunTask(bundle, s.Task, s.Rows, _settings)));
        }
        finally
        {
            if (training) bundle.Model.train();
        }
    }
}
