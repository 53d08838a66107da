using FinQLora.Config;
using FinQLora.Distributed;
using FinQLora.Runs;

namespace FinQLora.Training;

/// <summary>How this invocation runs a stage: fresh, resumed, or over an earlier run; step cap from the command line.</summary>
/// <param name="ResumeCommand">The command line that resumes this run, for messages; default: <paramref name="Command"/> --resume OUTPUT.</param>
/// <param name="Hooks">Where a caller steps into the run (tests); default: what FINQLORA_FAULT asks for (<see cref="FaultInjection"/>), else none.</param>
public sealed record TrainOptions(RunFolder.Mode Mode = RunFolder.Mode.New, int? MaxSteps = null, string Command = "finqlora train",
    string? InitAdapterOverride = null, string? ResumeCommand = null, TrainingHooks? Hooks = null)
{
    public string ResumeCommandFor(string output) => ResumeCommand ?? $"{Command} --resume {output}";
}

/// <summary>What a finished (or stopped) stage left behind.</summary>
/// <param name="FinalDir">the final adapter (OUTPUT/adapter), or for training.method full the model folder (OUTPUT/model)</param>
public sealed record TrainResult(string Output, string FinalDir, bool FullModel, long Steps, double? LastLoss, bool Stopped);

/// <summary>
/// Trains one stage: takes the run folder (<see cref="RunSession"/>: folder, lock, config, resume policy), sets up
/// the <see cref="TrainingRecipe"/> in it and runs its loop.
/// </summary>
public static class Trainer
{
    public static TrainResult Run(TrainConfig cfg, TrainOptions opts, Action<string>? log = null)
    {
        log ??= Console.Error.WriteLine;
        if (opts.InitAdapterOverride is { } initOverride) cfg = cfg with { InitAdapter = initOverride };
        cfg = ContinueAdapter.Resolve(cfg);   // continue: the lora shape is the init adapter's (also in the saved config.yaml)
        var hooks = opts.Hooks ?? FaultInjection.FromEnvironment();
        var dist = DistributedContext.FromEnvironment();
        using var run = RunSession.Open(cfg, opts, dist.IsMain);
        using var recipe = new TrainingRecipe(cfg, opts, run, dist, hooks, log);
        return recipe.Train();
    }
}
