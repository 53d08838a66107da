using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Monitoring;
using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

/// <summary>
/// logging.eval_tasks_every_steps and checkpoint.select_best in a real run on the tiny model (fpb samples, no stubs):
/// the tasks lines are in metrics.jsonl, best-adapter holds the adapter of the first step with the highest value (byte
/// for byte the checkpoint of that step; on this tiny setup fpb acc may stay 0, and then the tie rule keeps the first
/// measurement), and a run stopped and resumed ends with the same tasks lines and the same best-adapter.
/// The selection rule itself, with values that change, is in <see cref="BestAdapterPolicyTests"/>.
/// </summary>
public class TaskMetricsDuringTrainingTests
{
    private const int Steps = 8, Every = 4;

    private static TrainConfig Stage(string output)
    {
        var c = TrainerTests.SmallStage(output, Steps, lr: 5e-2, checkpointEvery: Every);
        return c with
        {
            Checkpoint = c.Checkpoint with { KeepLast = Steps, SelectBest = "fpb.acc" },
            Logging = c.Logging with { EvalTasksEverySteps = Every, EvalTasksRows = 3, EvalTasksSplit = "train", EvalTasksMaxNewTokens = 1 },
        };
    }

    [Fact]
    public void The_best_step_by_the_task_metric_is_kept_as_best_adapter_and_survives_a_resume()
    {
        var root = Fixtures.TempDir();
        var straight = Path.Combine(root, "straight");
        Trainer.Run(Stage(straight), new TrainOptions(), _ => { });
        var lines = MetricsJsonl.ReadTasks(Path.Combine(straight, "metrics.jsonl"));
        Assert.Equal([4L, 8], lines.Select(l => l.Step));
        Assert.All(lines, l => Assert.Equal(3, l.Rows["fpb"]));
        Assert.All(lines, l => Assert.Equal(["acc", "f1", "macro_f1", "mcc", "missing"], l.Metrics["fpb"].Keys));
        var scores = lines.Select(l => l.Score!.Value).ToList();
        // the first step with the highest value, and the lines say which steps were a new best
        int bestAt = scores.IndexOf(scores.Max());
        long bestStep = lines[bestAt].Step;
        Assert.Equal(lines.Select((l, i) => scores.Take(i).All(s => scores[i] > s)), lines.Select(l => l.Best!.Value));
        var best = Path.Combine(straight, TrainingTaskMetrics.BestAdapterDir);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "checkpoints", CheckpointStore.NameOf(bestStep), RunLayout.AdapterDir, PeftAdapterFiles.WeightsFile)),
            File.ReadAllBytes(Path.Combine(best, PeftAdapterFiles.WeightsFile)));
        Assert.Contains($"\"step\":{bestStep},", File.ReadAllText(Path.Combine(best, TrainingTaskMetrics.NoteFile)));
        Assert.True(File.Exists(Path.Combine(straight, "adapter", PeftAdapterFiles.WeightsFile)));   // the final one beside it

        // stopped after step 5 (checkpoint 5), resumed: the same lines and best adapter; the best so far came back from trainer_state.json
        var resumed = Path.Combine(root, "resumed");
        Trainer.Run(Stage(resumed), new TrainOptions(Hooks: TestHooks.StopAfter(5)), _ => { });
        var saved = TrainerState.Load(Path.Combine(resumed, "checkpoints", CheckpointStore.NameOf(5), RunLayout.TrainerStateFile));
        Assert.Equal((4L, scores[0]), (saved.BestTaskStep!.Value, saved.BestTaskScore!.Value));
        Trainer.Run(Stage(resumed), new TrainOptions(RunFolder.Mode.Resume), _ => { });
        Assert.Equal(lines.Select(l => (l.Step, l.Score, l.Best)), MetricsJsonl.ReadTasks(Path.Combine(resumed, "metrics.jsonl")).Select(l => (l.Step, l.Score, l.Best)));
        Assert.Equal(File.ReadAllBytes(Path.Combine(best, PeftAdapterFiles.WeightsFile)), File.ReadAllBytes(Path.Combine(resumed, TrainingTaskMetrics.BestAdapterDir, PeftAdapterFiles.WeightsFile)));
    }
}
