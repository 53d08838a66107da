using System.Text.Json.Nodes;
using FinQLora.Evaluation;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Monitoring;
using FinQLora.Tasks;
using FinQLora.Tests.Cli;
using static TorchSharp.torch;

namespace FinQLora.Tests.Evaluation;

/// <summary>
/// The task metrics measured during training are the evaluator's: the probe on a subset gives the numbers
/// `finqlora evaluate --limit N` writes for the same rows; its lines round-trip through metrics.jsonl.
/// </summary>
public class TaskMetricsProbeTests
{
    private static readonly string Samples = Path.Combine(AppContext.BaseDirectory, "samples");

    [Fact]
    public void The_probe_measures_what_evaluate_writes_for_the_same_rows()
    {
        var tasks = new[] { "fpb", "headlines", "finqa" };
        var probe = TaskMetricsProbe.Load(Samples, tasks.Select(FlareTasks.Get).ToList(), "test", rows: 3, maxNewTokens: 4, maxLength: 4096, systemPrompt: null);
        Assert.Equal(tasks.ToDictionary(t => t, _ => 3), probe.Rows);
        SortedDictionary<string, SortedDictionary<string, double>> measured;
        using (var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32)))
        {
            bundle.Model.train();
            measured = probe.Measure(bundle);
            Assert.True(bundle.Model.training);   // back in the mode it was in
        }
        var output = Path.Combine(Fixtures.TempDir(), "eval");
        var r = CliProcess.Run("evaluate", "--model", Fixtures.TinyModel, "--data", Samples, "--tasks", string.Join(",", tasks), "--limit", "3", "--max-new-tokens", "4", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var written = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "metrics.json")))!.AsObject();
        Assert.Equal(written.Select(t => t.Key).Order(), measured.Keys.Order());
        foreach (var (task, m) in measured)
            foreach (var (name, value) in m) Assert.Equal(written[task]![name]!.GetValue<double>(), Math.Round(value, 6));
    }

    [Fact]
    public void A_split_the_data_lacks_is_named_for_every_task_before_training()
    {
        var e = Assert.Throws<FinQLoraException>(() => TaskMetricsProbe.Load(Samples, [FlareTasks.Get("fpb"), FlareTasks.Get("ner")], "valid", 8, 4, 512, null));
        Assert.Equal($"logging.eval_tasks_every_steps: {Samples} has no valid rows for fpb, ner (fpb/valid.jsonl, ner/valid.jsonl); set logging.eval_tasks_split to a split the data has (e.g. test for samples/), or logging.eval_tasks_every_steps: 0", e.Message);
    }

    [Fact]
    public void Task_metric_lines_round_trip_through_metrics_jsonl()
    {
        var path = Path.Combine(Fixtures.TempDir(), "metrics.jsonl");
        var line = new TaskMetrics("s1", 6, new Dictionary<string, int> { ["fpb"] = 8 },
            new Dictionary<string, SortedDictionary<string, double>> { ["fpb"] = new() { ["acc"] = 0.5, ["mcc"] = double.NaN } }, "mean", 0.25, false);
        using (var sink = new MetricsJsonl(path))
        {
            sink.Val(new ValMetrics("s1", 6, 1.5));
            sink.Tasks(line);
        }
        Assert.Equal("{\"kind\":\"tasks\",\"stage\":\"s1\",\"step\":6,\"rows\":{\"fpb\":8},\"metrics\":{\"fpb\":{\"acc\":0.5,\"mcc\":null}},\"select_best\":\"mean\",\"score\":0.25,\"best\":false}",
            File.ReadAllLines(path)[1]);
        var back = Assert.Single(MetricsJsonl.ReadTasks(path));
        Assert.Equal((6L, 0.5, 0.25, false), (back.Step, back.Metrics["fpb"]["acc"], back.Score!.Value, back.Best!.Value));
        Assert.True(double.IsNaN(back.Metrics["fpb"]["mcc"]));
        Assert.Single(MetricsJsonl.Read(path).Val);   // the other readers skip the new kind
    }
}
