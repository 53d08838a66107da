namespace FinQLora.Reports.Figures;

/// <summary>Training and validation loss per stage over optimizer steps, learning rate on the right axis.</summary>
public static class TrainingCurves
{
    public static void Save(string path, IReadOnlyList<RunData> runs)
    {
        var plot = Figure.New();
        long offset = 0;
        bool any = false;
        foreach (var run in runs)
        {
            if (run.Train.Count == 0) continue;
            any = true;
            var xs = run.Train.Select(m => (double)(m.Step + offset)).ToArray();
            var loss = plot.Add.Scatter(xs, run.Train.Select(m => double.IsFinite(m.Loss) ? m.Loss : double.NaN).ToArray());
            loss.LegendText = $"{run.Name} train loss";
            loss.MarkerSize = 0;
            if (run.Val.Count > 0)
            {
                var val = plot.Add.Scatter(run.Val.Select(m => (double)(m.Step + offset)).ToArray(), run.Val.Select(m => m.ValLoss).ToArray());
                val.LegendText = $"{run.Name} validation loss";
                val.LinePattern = ScottPlot.LinePattern.Dashed;
            }
            var lr = plot.Add.Scatter(xs, run.Train.Select(m => m.Lr).ToArray());
            lr.Axes.YAxis = plot.Axes.Right;
            lr.LegendText = $"{run.Name} learning rate";
            lr.MarkerSize = 0;
            lr.LinePattern = ScottPlot.LinePattern.Dotted;
            offset += run.Train[^1].Step;
        }
        if (!any) Figure.Note(plot, "no training metrics found (metrics.jsonl)");
        plot.Title("Training curves (stages in order)");
        plot.XLabel("optimizer step (cumulative over stages)");
        plot.YLabel("loss (nats per answer token)");
        plot.Axes.Right.Label.Text = "learning rate";
        if (any) plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        Figure.Save(plot, path);
    }
}
