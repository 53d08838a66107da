using FinQLora.Config;
using FinQLora.Distributed;
using FinQLora.Runs;

namespace FinQLora.Training;

/// <summary>How this invocation runs a stage: fresh, resumed, or over an earlier run; step cap from the command line.</summary>
/// <param name="ResumeCommand">The command line that resumes this run, for messages; default: <paramref name="Command"/> --resume OUTPUT.</param>
/// <param name="Hooks">Where a caller steps into the run (tests); default: what FINQLORA_FAULT asks for (<see cref="FaultInjection"/>), else none.</param>
/// <param name="ConfigFile">The config file the stage came from, named in messages about its values (model.device in FILE).</param>
public sealed record TrainOptions(RunFolder.Mode Mode = RunFolder.Mode.New, int? MaxSteps = null, string Command = "finqlora train",
    string? InitAdapterOverride = null, string? ResumeCommand = null, TrainingHooks? Hooks = null, string? ConfigFile = null)
{
    public string ResumeCommandFor(string output) => ResumeCommand ?? $"{Command} --resume {output}";
}

/// <summary>What a finished (or stopped) stage left behind.</summary>
/// <param name="FinalDir">the final adapter (OUTPUT/adapter), or for training.method full the model folder (OUTPUT/model)</param>
public sealed record TrainResult(string Output, string FinalDir, bool FullModel, long Steps, double? LastLoss, bool Stopped);

/// <summary>
/// Trains one stage: checks what it needs (<see cref="RunPreflight"/>: device, model, data, init adapter) before
/// anything is written, takes the run folder (<see cref="RunSession"/>: folder, lock, config, resume policy), sets up
/// the <see cref="TrainingRecipe"/> in it and runs its loop. A new run whose setup fails (before its first step)
/// leaves no run folder behind, so the same command can simply be run again.
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
        if (dist.IsMain) RunFolder.Check(cfg.Output, opts.Mode);   // a folder refusal first: it is the cheapest to fix
        RunPreflight.Check(cfg, opts.ConfigFile, dist.WorldSize > 1, replacing: opts.Mode == RunFolder.Mode.Overwrite);
        bool existed = Directory.Exists(cfg.Output);
        var run = RunSession.Open(cfg, opts, dist.IsMain);
        TrainingRecipe recipe;
        try
        {
            recipe = new TrainingRecipe(cfg, opts, run, dist, hooks, log);
        }
        catch
        {
            run.Dispose();
            if (opts.Mode != RunFolder.Mode.Resume && dist.IsMain) RemoveUnstarted(cfg.Output, existed);
            throw;
        }
        using (run)
        using (recipe)
            return recipe.Train();
    }

    /// <summary>The folder of a run that never took a step: removed (its contents only, when the folder was there before).</summary>
    private static void RemoveUnstarted(string output, bool existed)
    {
        try
        {
            if (!existed) { Directory.Delete(output, recursive: true); return; }
            foreach (var d in Directory.GetDirectories(output)) Directory.Delete(d, recursive: true);
            foreach (var f in Directory.GetFiles(output)) File.Delete(f);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }   // the setup error matters more than this
    }
}
