using FinQLora.Config;
using FinQLora.Monitoring;
using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class TrainerTests
{
    /// <summary>A small stage on the parity fixture model: fpb rows from the samples, LoRA on all projections.</summary>
    internal static TrainConfig SmallStage(string output, int steps, double lr = 5e-3, int checkpointEvery = 0) => new()
    {
        Stage = "test", Output = output,
        Model = new ModelSection { Path = Fixtures.TinyModel, Dtype = "float32", Device = "cpu" },
        Lora = new LoraSection { R = 4, Alpha = 8, Dropout = 0.1, Targets = ["all-linear"] },
        Data = new DataSection { Dir = Path.Combine(AppContext.BaseDirectory, "samples"), Tasks = ["fpb"], MaxLength = 256, Truncation = Truncation.Left },
        Training = new TrainingSection { Method = TrainingMethod.Lora, MaxSteps = steps, BatchSize = 2, GradAccum = 2, Lr = lr, Schedule = Schedule.Constant, WarmupSteps = 0, Seed = 7, LossChunkSize = 64 },
        Checkpoint = new CheckpointSection { EverySteps = checkpointEvery, KeepLast = 2 },
        Logging = new LoggingSection { EverySteps = 1, EvalEverySteps = 0, Tensorboard = false },
    };

    [Fact]
    public void Loss_falls_on_a_tiny_model()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        Trainer.Run(SmallStage(output, steps: 16), new TrainOptions(), _ => { });
        var (train, _) = MetricsJsonl.Read(Path.Combine(output, "metrics.jsonl"));
        Assert.Equal(16, train.Count);
        double first = train.Take(4).Average(m => m.Loss), last = train.TakeLast(4).Average(m => m.Loss);
        Assert.True(last < 0.7 * first, $"loss {first:F3} → {last:F3}");
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
        Assert.True(File.Exists(Path.Combine(output, "config.yaml")));
    }

    [Fact]
    public void A_resumed_run_ends_with_the_same_adapter_bytes()
    {
        var root = Fixtures.TempDir();
        var straight = Path.Combine(root, "straight");
        Trainer.Run(SmallStage(straight, steps: 6, checkpointEvery: 2), new TrainOptions(), _ => { });

        var interrupted = Path.Combine(root, "interrupted");
        var first = Trainer.Run(SmallStage(interrupted, steps: 6, checkpointEvery: 2), new TrainOptions(Hooks: TestHooks.StopAfter(3)), _ => { });
        Assert.True(first.Stopped);
        Trainer.Run(SmallStage(interrupted, steps: 6, checkpointEvery: 2), new TrainOptions(RunFolder.Mode.Resume), _ => { });

        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter", "adapter_model.safetensors")),
                     File.ReadAllBytes(Path.Combine(interrupted, "adapter", "adapter_model.safetensors")));
        var (a, _) = MetricsJsonl.Read(Path.Combine(straight, "metrics.jsonl"));
        var (b, _) = MetricsJsonl.Read(Path.Combine(interrupted, "metrics.jsonl"));
        Assert.Equal(a.Select(m => m.Loss), b.Select(m => m.Loss));
    }

    [Fact]
    public void Live_tensors_do_not_grow_across_steps()
    {
        var counts = new List<long>();
        Trainer.Run(SmallStage(Path.Combine(Fixtures.TempDir(), "run"), steps: 6), new TrainOptions(Hooks: TestHooks.OnStepEnd(_ => counts.Add(LiveTensors()))), _ => { });
        // after the first steps (optimizer state created lazily) the count must stay flat
        Assert.Equal(counts[2], counts[^1]);
    }

    [Fact]
    public void An_existing_run_folder_is_not_overwritten_without_asking()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        Trainer.Run(SmallStage(output, steps: 1), new TrainOptions(), _ => { });
        var e = Assert.Throws<FinQLoraException>(() => Trainer.Run(SmallStage(output, steps: 1), new TrainOptions(), _ => { }));
        Assert.Contains("--overwrite", e.Message);
    }

    private static long LiveTensors() => TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
}
