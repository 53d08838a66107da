using FinQLora.Monitoring;

namespace FinQLora.Tests.Monitoring;

public class MetricsJsonlTests
{
    [Fact]
    public void Train_and_val_lines_have_the_exact_documented_shape()
    {
        Assert.Equal("""{"kind":"train","stage":"stage1","step":12,"epoch":0.5,"loss":1.23,"lr":0.0002,"grad_norm":0.8,"tokens_per_s":1234.5,"step_time_s":0.41,"gpu_mem_gib":6.1}""",
            MetricsJsonl.Line(new TrainMetrics("stage1", 12, 0.5, 1.23, 0.0002, 0.8, 1234.5, 0.41, 6.1)));
        Assert.Equal("""{"kind":"val","stage":"stage1","step":20,"val_loss":1.1}""", MetricsJsonl.Line(new ValMetrics("stage1", 20, 1.1)));
    }

    [Fact]
    public void Non_finite_values_and_no_gpu_are_written_as_null()
    {
        Assert.Equal("""{"kind":"train","stage":"s","step":1,"epoch":0,"loss":null,"lr":0.001,"grad_norm":null,"tokens_per_s":10,"step_time_s":1,"gpu_mem_gib":null}""",
            MetricsJsonl.Line(new TrainMetrics("s", 1, 0, double.NaN, 0.001, double.PositiveInfinity, 10, 1, null)));
    }

    [Fact]
    public void Written_lines_read_back_and_torn_lines_are_skipped()
    {
        var path = Path.Combine(Fixtures.TempDir(), "metrics.jsonl");
        using (var w = new MetricsJsonl(path))
        {
            w.Train(new TrainMetrics("s", 1, 0.1, 2.5, 1e-4, 1.0, 100, 0.5, null));
            w.Val(new ValMetrics("s", 1, 2.4));
        }
        File.AppendAllText(path, "{\"kind\":\"train\",\"stage\":\"s\",\"st");  // killed mid-line
        var (train, val) = MetricsJsonl.Read(path);
        Assert.Equal(new TrainMetrics("s", 1, 0.1, 2.5, 1e-4, 1.0, 100, 0.5, null), Assert.Single(train));
        Assert.Equal(2.4, Assert.Single(val).ValLoss);
    }

    [Fact]
    public void Resuming_drops_lines_written_after_the_checkpoint()
    {
        var path = Path.Combine(Fixtures.TempDir(), "metrics.jsonl");
        using (var w = new MetricsJsonl(path))
            for (int step = 1; step <= 6; step++)
            {
                w.Train(new TrainMetrics("s", step, step / 10.0, 2, 1e-4, 1, 100, 0.5, null));
                if (step % 2 == 0) w.Val(new ValMetrics("s", step, 1.5));
            }
        File.AppendAllText(path, "{\"kind\":\"tr");
        MetricsJsonl.TruncateAfter(path, 4);
        var (train, val) = MetricsJsonl.Read(path);
        Assert.Equal([1L, 2, 3, 4], train.Select(t => t.Step));
        Assert.Equal([2L, 4], val.Select(v => v.Step));
        Assert.EndsWith("\n", File.ReadAllText(path));
        Assert.Equal(6, File.ReadAllLines(path).Length);
    }
}
