using FinQLora.Monitoring;

namespace FinQLora.Tests.Monitoring;

public class ProgressDisplayTests
{
    [Fact]
    public void Redirected_output_gets_one_plain_line_per_logged_step()
    {
        var text = new StringWriter();
        using (var p = new ProgressDisplay("stage2", 100, live: false, plain: text))
        {
            p.Message("loading data");
            p.Train(new TrainMetrics("stage2", 10, 0.25, 1.23456, 2e-4, 0.5, 1234.4, 0.41, 6.14));
            p.Val(new ValMetrics("stage2", 10, 1.1));
        }
        var lines = text.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("loading data", lines[0]);
        Assert.Matches(@"^stage2 step 10/100 epoch 0\.25 loss 1\.2346 lr 2e-4 grad_norm 0\.500 tok/s 1234 ETA \d\d:\d\d:\d\d gpu 6\.1 GiB$", lines[1]);
        Assert.Equal("stage2 step 10/100 val_loss 1.1000", lines[2]);
    }

    [Fact]
    public void The_eta_extrapolates_the_mean_step_time()
    {
        using var p = new ProgressDisplay("s", 100, live: false, plain: TextWriter.Null);
        Assert.Null(p.Eta(0));
        p.Train(new TrainMetrics("s", 1, 0, 1, 1, 1, 1, StepTimeS: 2.0, null));  // first step took 2 s
        var eta = p.Eta(1)!.Value.TotalSeconds;
        Assert.InRange(eta, 99 * 2.0, 99 * 2.0 + 99 * 1.0);  // 99 steps left at ≥ 2 s each (plus test overhead)
        Assert.Equal("--:--:--", ProgressDisplay.FormatEta(null));
        Assert.Equal("26:03:04", ProgressDisplay.FormatEta(new TimeSpan(1, 2, 3, 4)));
    }
}

public class ProgressDisplayLiveTests
{
    [Fact]
    public void The_live_panel_renders_updates_and_stops_cleanly()
    {
        using var p = new ProgressDisplay("stage1", 10, live: true);
        {
            p.Message("a message above the panel");
            for (int step = 1; step <= 3; step++)
            {
                p.Train(new TrainMetrics("stage1", step, step / 10.0, 2.0 / step, 1e-4, 0.5, 900, 0.05, null));
                Thread.Sleep(30);
            }
            p.Val(new ValMetrics("stage1", 3, 0.9));
            Thread.Sleep(300);  // at least one redraw
        }
        p.Dispose();
        Assert.Null(p.RenderError);
    }
}
