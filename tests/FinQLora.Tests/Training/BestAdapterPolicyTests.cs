using FinQLora.Tasks;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class BestAdapterPolicyTests
{
    private static SortedDictionary<string, SortedDictionary<string, double>> M(params (string Task, string Metric, double Value)[] values)
    {
        var m = new SortedDictionary<string, SortedDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var (t, k, v) in values) (m.TryGetValue(t, out var d) ? d : m[t] = new(StringComparer.Ordinal))[k] = v;
        return m;
    }

    private static TaskMetricSelector Selector(string spec, params string[] tasks) =>
        TaskMetricSelector.Parse(spec, tasks) is ({ } s, null) ? s : throw new InvalidOperationException(spec);

    [Fact]
    public void The_highest_value_wins_a_tie_keeps_the_earlier_step_and_a_missing_or_nan_value_never_wins()
    {
        var policy = new BestAdapterPolicy(Selector("fpb.f1", "fpb", "finqa"));
        Assert.True(policy.Offer(10, M(("fpb", "f1", 0.40), ("fpb", "acc", 0.9))));
        Assert.False(policy.Offer(20, M(("fpb", "f1", 0.30))));
        Assert.True(policy.Offer(30, M(("fpb", "f1", 0.55))));
        Assert.False(policy.Offer(40, M(("fpb", "f1", 0.55))));          // a tie: the earlier step stays
        Assert.False(policy.Offer(50, M(("fpb", "f1", double.NaN))));
        Assert.False(policy.Offer(60, M(("finqa", "acc", 1.0))));        // fpb not measured
        Assert.Equal((30L, 0.55), (policy.BestStep!.Value, policy.BestScore!.Value));
    }

    [Fact]
    public void Mean_averages_each_tasks_headline_metric()
    {
        // fpb: f1 (not acc); finqa: acc (exact match); ner: entity_f1; (0.5 + 0.25 + 0.75) / 3 = 0.5
        var metrics = M(("fpb", "f1", 0.5), ("fpb", "acc", 1.0), ("finqa", "acc", 0.25), ("finqa", "num_acc", 1.0), ("ner", "entity_f1", 0.75));
        Assert.Equal(0.5, Selector("mean", "fpb", "finqa", "ner").Score(metrics));
        Assert.Equal(["f1", "acc", "avg_f1", "entity_f1", "acc"], new[] { "fiqasa", "acl18", "headlines", "ner", "convfinqa" }.Select(t => TaskMetricSelector.HeadlineMetric(FlareTasks.Get(t))));
    }

    [Fact]
    public void A_resumed_run_compares_against_the_best_it_was_given()
    {
        var policy = new BestAdapterPolicy(Selector("mean", "fpb"), bestStep: 30, bestScore: 0.6);
        Assert.False(policy.Offer(40, M(("fpb", "f1", 0.59))));
        Assert.True(policy.Offer(50, M(("fpb", "f1", 0.61))));
        Assert.Equal(50, policy.BestStep);
    }

    [Theory]
    [InlineData("f1", "expected TASK.METRIC (e.g. fpb.f1) or mean, got 'f1'")]
    [InlineData("fpb.", "expected TASK.METRIC (e.g. fpb.f1) or mean, got 'fpb.'")]
    [InlineData("ner.entity_f1", "'ner' is not one of the stage's data.tasks (fpb, finqa), whose metrics are the ones measured")]
    [InlineData("fpb.missing", "'fpb.missing': missing is lower-is-better and cannot pick the best checkpoint; choose one of acc, f1, macro_f1, mcc")]
    [InlineData("finqa.f1", "finqa has no metric 'f1'; choose one of acc, num_acc")]
    public void A_bad_selector_is_named_with_the_choices(string spec, string error) =>
        Assert.Equal(error, TaskMetricSelector.Parse(spec, ["fpb", "finqa"]).Error);
}
