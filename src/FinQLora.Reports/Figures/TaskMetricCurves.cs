using FinQLora.Monitoring;
using FinQLora.Tasks;

namespace FinQLora.Reports.Figures;

/// <summary>
/// The FLARE task metrics measured during training (logging.eval_tasks_every_steps; the "tasks" lines of each run's
/// metrics.jsonl) against the optimizer step, cumulative over stages as in <see cref="TrainingCurves"/>: one line per
/// stage and task, its headline metric (F1 for sentiment, accuracy for stock movement and QA, avg F1 for Headlines,
/// entity F1 for NER), and the best step of checkpoint.select_best marked. Not drawn when no run measured any.
/// </summary>
public static class TaskMetricCurves
{
    /// <summary>Writes the figure to <paramref name="path"/> and returns true, or writes nothing and returns false when no run has task metrics.</summary>
    public static bool Save(string path, IReadOnlyList<RunData> runs)
    {
        var plot = Figure.New();
        long offset = 0;
        bool any = false;
        foreach (var run in runs)
        {
            var file = Path.Combine(run.Dir, "metrics.jsonl");
            var lines = File.Exists(file) ? MetricsJsonl.ReadTasks(file) : [];
            foreach (var task in lines.SelectMany(l => l.Metrics.Keys).Distinct().Order(StringComparer.Ordinal))
            {
                var metric = TaskMetricSelector.HeadlineMetric(FlareTasks.Get(task));
                var points = lines.Where(l => l.Metrics.TryGetValue(task, out var m) && m.ContainsKey(metric)).ToList();
                var line = plot.Add.Scatter(points.Select(l => (double)(l.Step + offset)).ToArray(), points.Select(l => l.Metrics[task][metric]).ToArray());
                line.LegendText = $"{run.Name} {task} {metric}";
                any = true;
            }
            if (lines.LastOrDefault(l => l.Best == true) is { Score: { } score } best)
            {
                var mark = plot.Add.Marker(best.Step + offset, score, ScottPlot.MarkerShape.OpenCircle, 12);
                mark.LegendText = $"{run.Name} best ({best.SelectBest})";
            }
            offset += run.Train.Count > 0 ? run.Train[^1].Step : lines.Count > 0 ? lines[^1].Step : 0;
        }
        if (!any) return false;
        plot.Title("FLARE metrics during training (fixed subset per task)");
        plot.XLabel("optimizer step (cumulative over stages)");
        plot.YLabel("metric (fraction)");
        plot.Axes.SetLimitsY(0, 1.05);
        plot.ShowLegend(ScottPlot.Alignment.LowerRight);
        Figure.Save(plot, path);
        return true;
    }
}
