using FinQLora.Config;
using FinQLora.Tests.Cli;
using FinQLora.Tests.Training;

namespace FinQLora.Tests.Reliability;

/// <summary>
/// A `finqlora train` config on the tiny model (CPU, fpb samples, LoRA with dropout, 16 steps of 4 sequences,
/// crossing an epoch, a checkpoint every 2 steps, the newest 2 kept), and that config's uninterrupted run,
/// made once for the tests that interrupt it.
/// </summary>
public sealed class TinyTrainRun
{
    public const int Steps = 16, CheckpointEvery = 2;

    public string Root { get; } = Fixtures.TempDir();
    public string Config { get; }
    /// <summary>The run folder of the uninterrupted run.</summary>
    public string Straight { get; }

    public TinyTrainRun()
    {
        Config = Path.Combine(Root, "tiny.yaml");
        var cfg = TrainerTests.SmallStage(Path.Combine(Root, "unused"), Steps, checkpointEvery: CheckpointEvery);
        ConfigWriter.Write(Config, cfg with { Model = cfg.Model with { Quantize = Quantize.None } });  // float32 base: NF4 is ~15× slower on a CPU
        Straight = Path.Combine(Root, "straight");
        var r = CliProcess.Run(TrainArgs(Straight));
        Assert.True(r.ExitCode == 0, $"exit code {r.ExitCode}\n{r.Stderr}{r.Stdout}");
    }

    /// <summary>The arguments of a new run into <paramref name="output"/>.</summary>
    public string[] TrainArgs(string output) => ["train", "--config", Config, "--set", $"output={output}"];

    /// <summary>The arguments that resume the run in <paramref name="output"/>.</summary>
    public string[] ResumeArgs(string output) => ["train", "--config", Config, "--resume", output];

    public static string AdapterWeights(string output) => Path.Combine(output, "adapter", "adapter_model.safetensors");
}

/// <summary>The test classes that share one <see cref="TinyTrainRun"/>.</summary>
[CollectionDefinition(Name)]
public sealed class TinyTrainRunCollection : ICollectionFixture<TinyTrainRun>
{
    public const string Name = "tiny train run";
}
