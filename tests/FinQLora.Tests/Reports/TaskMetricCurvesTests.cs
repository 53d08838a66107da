using FinQLora.Reports;
using FinQLora.Reports.Figures;

namespace FinQLora.Tests.Reports;

public class TaskMetricCurvesTests
{
    private static RunData Run(bool withTasks)
    {
        var dir = Path.Combine(Fixtures.TempDir(), "stage1");
        Directory.CreateDirectory(dir);
        var lines = Enumerable.Range(1, 4).Select(i =>
            $$"""{"kind":"train","stage":"stage1","step":{{i}},"epoch":0.1,"loss":2.0,"lr":0.0002,"grad_norm":1.0,"tokens_per_s":1000,"step_time_s":0.5,"gpu_mem_gib":null}""").ToList();
        if (withTasks)
            lines.AddRange([
                """{"kind":"tasks","stage":"stage1","step":2,"rows":{"fpb":8},"metrics":{"fpb":{"acc":0.5,"f1":0.25}},"select_best":"fpb.f1","score":0.25,"best":true}""",
                """{"kind":"tasks","stage":"stage1","step":4,"rows":{"fpb":8},"metrics":{"fpb":{"acc":0.75,"f1":0.5}},"select_best":"fpb.f1","score":0.5,"best":true}""",
            ]);
        File.WriteAllLines(Path.Combine(dir, "metrics.jsonl"), lines);
        return RunData.Load(dir);
    }

    [Fact]
    public void The_figure_is_drawn_from_the_task_lines_and_left_out_when_there_are_none()
    {
        var output = Fixtures.TempDir();
        var png = Path.Combine(output, "task_metrics.png");
        Assert.True(TaskMetricCurves.Save(png, [Run(withTasks: true)]));
        Assert.True(new FileInfo(png).Length > 10_000);
        var none = Path.Combine(output, "none.png");
        Assert.False(TaskMetricCurves.Save(none, [Run(withTasks: false)]));
        Assert.False(File.Exists(none));
    }
}
