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
        Assert.InRange(eta, 99 * 2.0 - 1, 99 * 2.0 + 99 * 1.0);  // 99 steps left at 2 s each (plus test overhead)
        Assert.Equal("--:--:--", ProgressDisplay.FormatEta(null));
        Assert.Equal("26:03:04", ProgressDisplay.FormatEta(new TimeSpan(1, 2, 3, 4)));
    }
}

public class EtaTests
{
    private static readonly TimeSpan Start = TimeSpan.FromSeconds(100);

    [Fact]
    public void Between_log_lines_the_eta_counts_down_instead_of_climbing()
    {
        // 10 steps logged in 50 s (5 s each), 90 left: 450 s; then the clock runs on at the same step
        var at = (double seconds) => ProgressDisplay.Estimate(100, 0, Start, 10, Start + TimeSpan.FromSeconds(50), Start + TimeSpan.FromSeconds(50 + seconds))!.Value.TotalSeconds;
        Assert.Equal(450, at(0), 6);
        Assert.Equal(430, at(20), 6);
        Assert.Equal(0, at(10_000), 6);   // never negative
        var etas = Enumerable.Range(0, 60).Select(s => at(s)).ToList();
        Assert.True(etas.Zip(etas.Skip(1)).All(p => p.Second <= p.First), "the ETA must not climb while the step stands still");
    }

    [Fact]
    public void The_eta_is_the_steps_left_times_the_mean_step_time_since_the_first_logged_step()
    {
        // resumed at step 40 (start step 40): steps 41..60 took 40 s, 2 s each; 40 steps left → 80 s
        Assert.Equal(80, ProgressDisplay.Estimate(100, 40, Start, 60, Start + TimeSpan.FromSeconds(40), Start + TimeSpan.FromSeconds(40))!.Value.TotalSeconds, 6);
        Assert.Null(ProgressDisplay.Estimate(100, -1, Start, 0, Start, Start));
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
