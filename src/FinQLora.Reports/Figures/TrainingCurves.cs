namespace FinQLora.Reports.Figures;

/// <summary>Training (and, where logged, validation) loss per stage over optimizer steps, learning rate on the right axis.</summary>
public static class TrainingCurves
{
    /// <summary>True when some run has training lines to draw.</summary>
    public static bool HasData(IReadOnlyList<RunData> runs) => runs.Any(r => r.Train.Count > 0);

    /// <summary>True when some run logged validation loss (a valid split and logging.eval_every_steps).</summary>
    public static bool HasValidation(IReadOnlyList<RunData> runs) => runs.Any(r => r.Train.Count > 0 && r.Val.Count > 0);

    public static void Save(string path, IReadOnlyList<RunData> runs, string? banner = null)
    {
        var plot = Figure.New();
        long offset = 0;
        var losses = new List<double>();
        foreach (var run in runs)
        {
            if (run.Train.Count == 0) continue;
            var xs = run.Train.Select(m => (double)(m.Step + offset)).ToArray();
            var ys = run.Train.Select(m => double.IsFinite(m.Loss) ? m.Loss : double.NaN).ToArray();
            losses.AddRange(ys);
            var loss = plot.Add.Scatter(xs, ys);
            loss.LegendText = $"{run.Name} train loss";
            loss.MarkerSize = 0;
            if (run.Val.Count > 0)
            {
                var val = plot.Add.Scatter(run.Val.Select(m => (double)(m.Step + offset)).ToArray(), run.Val.Select(m => m.ValLoss).ToArray());
                val.LegendText = $"{run.Name} validation loss";
                val.LinePattern = ScottPlot.LinePattern.Dashed;
                losses.AddRange(run.Val.Select(m => m.ValLoss));
            }
            var lr = plot.Add.Scatter(xs, run.Train.Select(m => m.Lr).ToArray());
            lr.Axes.YAxis = plot.Axes.Right;
            lr.LegendText = $"{run.Name} learning rate";
            lr.MarkerSize = 0;
            lr.LinePattern = ScottPlot.LinePattern.Dotted;
            offset += run.Train[^1].Step;
        }
        Figure.Title(plot, HasValidation(runs) ? "Training and validation loss (stages in order)" : "Training loss (stages in order)", banner);
        plot.XLabel("optimizer step (cumulative over stages)");
        plot.YLabel("loss (nats per answer token)");
        plot.Axes.Right.Label.Text = "learning rate";
        Figure.FixedDecimals(plot.Axes.Left, losses);
        Figure.Scientific(plot.Axes.Right);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true, LabelFormatter = v => v.ToString("0", System.Globalization.CultureInfo.InvariantCulture) };
        Figure.LegendBeside(plot);
        Figure.Save(plot, path, 9, 4);
    }
}
