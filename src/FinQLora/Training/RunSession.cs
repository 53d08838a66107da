using FinQLora.Config;
using FinQLora.Runs;

namespace FinQLora.Training;

/// <summary>
/// A stage's run folder as one training process holds it, and the policy of starting over it: the folder is readied
/// for the mode (<see cref="RunFolder.Prepare"/>) under the run's lock (<see cref="RunLock"/>; an existing run is
/// locked before anything in it is touched, so a second process on it is refused); a resumed run's saved config.yaml
/// must equal the config (else two runs would mix), a new one's is written; <see cref="FindResumePoint"/> names the
/// checkpoint a resumed run continues from. Only the main rank prepares, locks and writes.
/// </summary>
public sealed class RunSession : IDisposable
{
    private readonly RunLock? _lock;

    public RunLayout Layout { get; }
    public CheckpointStore Store { get; }

    private RunSession(RunLayout layout, CheckpointStore store, RunLock? runLock) =>
        (Layout, Store, _lock) = (layout, store, runLock);

    public static RunSession Open(TrainConfig cfg, TrainOptions opts, bool isMain)
    {
        var layout = new RunLayout(cfg.Output);
        var runLock = isMain ? PrepareAndLock(cfg.Output, opts) : null;
        try
        {
            var store = new CheckpointStore(layout.Checkpoints, cfg.Checkpoint.KeepLast);
            // a folder without a checkpoint holds no run to mix with: a resume of it starts again with the config given
            if (opts.Mode == RunFolder.Mode.Resume && File.Exists(layout.Config) && store.List().Count > 0) RefuseChangedConfig(layout, cfg, opts);
            else if (isMain) ConfigWriter.Write(layout.Config, cfg, $"resolved config of stage '{cfg.Stage}' ({DateTime.UtcNow:u})");
            return new RunSession(layout, store, runLock);
        }
        catch
        {
            runLock?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The checkpoint a resumed run continues from: the newest that verifies (damaged and half-written ones are
    /// reported through <paramref name="log"/>), or null for a run killed before its first checkpoint, which has
    /// nothing to keep and starts again from step 0. Refuses when checkpoints exist and none can be used.
    /// </summary>
    public CheckpointInfo? FindResumePoint(Action<string> log)
    {
        var latest = Store.FindLatest(log);
        int unusable = latest is null ? Store.List().Count : 0;
        if (unusable > 0)
            // hours of training may sit in them: never start again over them without being told to
            throw new FinQLoraException($"{Layout.Output}: none of its {unusable} checkpoint(s) can be used (each is reported above); " +
                "nothing was changed. Restore a good copy into checkpoints/, or start the run again from step 0 with --overwrite.");
        return latest;
    }

    public void Dispose() => _lock?.Dispose();

    private static RunLock PrepareAndLock(string output, TrainOptions opts)
    {
        // a folder New refuses is left as it was; Resume and Overwrite lock the run they find first
        var held = opts.Mode != RunFolder.Mode.New && RunFolder.IsRun(output) ? RunLock.Acquire(output) : null;
        if (opts.Mode == RunFolder.Mode.Overwrite && held is not null)
        {
            held.Dispose();   // the folder is about to be moved away and deleted
            held = null;
        }
        try
        {
            RunFolder.Prepare(output, opts.Mode, opts.Command);
        }
        catch
        {
            held?.Dispose();
            throw;
        }
        return held ?? RunLock.Acquire(output);
    }

    /// <summary>
    /// A resumed run continues the run it finds: the same config, or nothing (a silent change of lr or data would
    /// mix two runs); output is where the run is now (it may have been moved, or named another way).
    /// </summary>
    private static void RefuseChangedConfig(RunLayout layout, TrainConfig cfg, TrainOptions opts)
    {
        var changed = ConfigDiff.Between(ConfigLoader.ReadTree(layout.Config), cfg, ignore: ["output"]);
        if (changed.Count == 0) return;
        throw new FinQLoraException($"{cfg.Output} was started with a different config; resuming it would mix two runs. " +
            $"Differences (saved → now): {string.Join("; ", changed.Take(8))}{(changed.Count > 8 ? $"; and {changed.Count - 8} more" : "")}. " +
            $"Resume with the saved config ({opts.ResumeCommandFor(cfg.Output)}), or start a new run (another output, or --overwrite).", exitCode: 2);
    }
}
