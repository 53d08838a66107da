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

    private static string WriteLines(params string[] lines)
    {
        var path = Path.Combine(Fixtures.TempDir(), "metrics.jsonl");
        File.WriteAllText(path, string.Join("\n", lines));
        return path;
    }

    private const string Good = """{"kind":"train","stage":"s","step":1,"epoch":0.1,"loss":2.5,"lr":0.0001,"grad_norm":1,"tokens_per_s":100,"step_time_s":0.5,"gpu_mem_gib":null}""";

    [Fact]
    public void Lines_of_the_wrong_types_are_skipped_with_one_warning_naming_file_and_line()
    {
        var path = WriteLines(
            Good,
            """{"kind":5}""",
            """{"kind":"train","stage":"s","step":"x"}""",
            """{"kind":"val","stage":"s","step":2,"val_loss":2.4}""",
            """{"kind":"train","stage":"s","step":3,"loss":"high"}""",
            """{"kind":"val","stage":"s","step":4,"val_loss":1,"val_loss":2}""",
            """{"kind":"val","step":5,"val_loss":1}""",
            """{"kind":"eval","step":"any"}""",
            """[1, 2]""",
            """{"kind":"train","stage":"s","st""");
        var warnings = new List<string>();
        var (train, val) = MetricsJsonl.Read(path, warnings.Add);
        Assert.Equal(new TrainMetrics("s", 1, 0.1, 2.5, 1e-4, 1.0, 100, 0.5, null), Assert.Single(train));
        Assert.Equal(2.4, Assert.Single(val).ValLoss);
        var warning = Assert.Single(warnings);
        // line 2: the kind is not a string; 3: the step is not a number; 5: the loss is a string; 6: a key twice;
        // 7: no stage; 9: not an object; 10: torn. Line 8, a kind this reader does not know, is not an error.
        Assert.StartsWith($"warning: {path}:2: skipped a bad line (", warning);
        Assert.EndsWith(" and 6 more (lines 3, 5, 6, 7, 9, 10)", warning);
    }

    [Fact]
    public void A_file_of_good_lines_reads_without_a_warning()
    {
        var warnings = new List<string>();
        MetricsJsonl.Read(WriteLines(Good, """{"kind":"val","stage":"s","step":1,"val_loss":2.4}""", ""), warnings.Add);
        Assert.Empty(warnings);
    }

    [Fact]
    public void Resuming_drops_lines_without_a_whole_number_step()
    {
        var path = WriteLines(
            Good,
            """{"kind":"train","stage":"s"}""",
            """{"kind":"train","stage":"s","step":"1"}""",
            """{"kind":"train","stage":"s","step":1.5}""",
            """{"kind":"val","stage":"s","step":1,"val_loss":2.4}""",
            """{"kind":"val","stage":"s","step":1,"step":1,"val_loss":2.4}""",
            """{"kind":"val","stage":"s","step":2,"val_loss":2.3}""");
        MetricsJsonl.TruncateAfter(path, 1);
        Assert.Equal([Good, """{"kind":"val","stage":"s","step":1,"val_loss":2.4}"""], File.ReadAllLines(path));
    }
}
