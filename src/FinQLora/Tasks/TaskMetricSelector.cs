using System.Globalization;

namespace FinQLora.Tasks;

/// <summary>
/// One number from a step's task metrics, higher is better: <c>TASK.METRIC</c> (e.g. <c>fpb.f1</c>) or <c>mean</c>, the
/// unweighted mean over the tasks measured of each task's headline metric, the one the FLARE paper reports
/// (<see cref="HeadlineMetric"/>). <c>missing</c> is not selectable: lower is better there.
/// </summary>
public sealed record TaskMetricSelector(string? Task, string? Metric)
{
    public const string Mean = "mean";

    /// <summary>The metric the FLARE paper reports for the task: F1 for sentiment, accuracy for stock movement and QA (exact match), avg F1 for Headlines, entity F1 for NER.</summary>
    public static string HeadlineMetric(FlareTask task) => task.Kind switch
    {
        TaskKind.Sentiment => "f1",
        TaskKind.StockMovement or TaskKind.Qa => "acc",
        TaskKind.Headlines => "avg_f1",
        TaskKind.Ner => "entity_f1",
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>Parses <paramref name="spec"/> for a stage that trains <paramref name="tasks"/>; the error names the bad part and the choices.</summary>
    public static (TaskMetricSelector? Selector, string? Error) Parse(string spec, IReadOnlyList<string> tasks)
    {
        if (spec == Mean) return (new TaskMetricSelector(null, null), null);
        int dot = spec.IndexOf('.');
        if (dot <= 0 || dot == spec.Length - 1)
            return (null, $"expected TASK.METRIC (e.g. fpb.f1) or mean, got '{spec}'");
        var (taskName, metric) = (spec[..dot], spec[(dot + 1)..]);
        if (!tasks.Contains(taskName))
            return (null, $"'{taskName}' is not one of the stage's data.tasks ({string.Join(", ", tasks)}), whose metrics are the ones measured");
        var task = FlareTasks.Get(taskName);
        if (metric == "missing") return (null, $"'{spec}': missing is lower-is-better and cannot pick the best checkpoint; choose one of {string.Join(", ", Selectable(task))}");
        if (!task.Metrics.Contains(metric)) return (null, $"{taskName} has no metric '{metric}'; choose one of {string.Join(", ", Selectable(task))}");
        return (new TaskMetricSelector(taskName, metric), null);
    }

    private static IEnumerable<string> Selectable(FlareTask task) => task.Metrics.Where(m => m != "missing");

    /// <summary>The selected value in <paramref name="metrics"/> ({task: {metric: value}}); null when it is not there (the task was not measured).</summary>
    public double? Score(IReadOnlyDictionary<string, SortedDictionary<string, double>> metrics)
    {
        if (Task is null)
        {
            var values = metrics.Select(t => t.Value.TryGetValue(HeadlineMetric(FlareTasks.Get(t.Key)), out var v) ? v : (double?)null).ToList();
            return values.Count == 0 || values.Any(v => v is null) ? null : values.Average(v => v!.Value);
        }
        return metrics.TryGetValue(Task, out var m) && m.TryGetValue(Metric!, out var x) ? x : null;
    }

    public override string ToString() => Task is null ? Mean : string.Create(CultureInfo.InvariantCulture, $"{Task}.{Metric}");
}
