using System.Diagnostics;
using System.Globalization;
using FinQLora.IO;

namespace FinQLora.Training;

/// <summary>
/// TEST-ONLY fault injection, for the fault tests (tests/FinQLora.Tests/Reliability), which run the CLI in a
/// child process: the environment variable <c>FINQLORA_FAULT</c>, read once when a run starts, makes the write of
/// one checkpoint fail at a known point — after its adapter and trainable tensors are on disk, in the middle of
/// its optimizer file — as a crash or a full disk would make it fail there:
/// <list type="bullet">
/// <item><c>kill-during-checkpoint:STEP</c>: the process SIGKILLs itself (what <c>kill -9</c> does: no
/// finally blocks, no flushing), leaving checkpoint STEP half-written.</item>
/// <item><c>disk-full-at-checkpoint:STEP</c>: the write throws the IOException that a full disk gives on
/// Linux (ENOSPC, errno 28, "No space left on device").</item>
/// </list>
/// Unset (always, outside these tests) it gives <see cref="TrainingHooks.None"/>. Not a user feature: no option, no config key.
/// </summary>
public static class FaultInjection
{
    public const string Variable = "FINQLORA_FAULT";

    /// <summary>The hooks that <c>FINQLORA_FAULT</c> asks for (none when it is unset).</summary>
    public static TrainingHooks FromEnvironment() => Parse(Runtime.EnvironmentSettings.Current.Fault);

    private static TrainingHooks Parse(string? spec)
    {
        if (string.IsNullOrEmpty(spec)) return TrainingHooks.None;
        var parts = spec.Split(':');
        if (parts.Length != 2 || parts[0] is not ("kill-during-checkpoint" or "disk-full-at-checkpoint")
            || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var at))
            throw new FinQLoraException($"{Variable}={spec}: expected kill-during-checkpoint:STEP or disk-full-at-checkpoint:STEP (a test-only setting; unset it)");
        bool kill = parts[0] == "kill-during-checkpoint";
        return TrainingHooks.None with
        {
            BeforeOptimizerState = (step, optimizerPath) =>
            {
                if (step == at) Fail(optimizerPath, kill);
            },
        };
    }

    private static void Fail(string optimizerPath, bool kill) =>
        AtomicFile.Write(optimizerPath, stream =>
        {
            stream.Write(new byte[4096]);  // part of the file reaches the disk
            if (stream is FileStream file) file.Flush(flushToDisk: true);
            if (kill)
            {
                Process.GetCurrentProcess().Kill();  // SIGKILL on Unix
                Thread.Sleep(Timeout.Infinite);
            }
            throw new IOException($"No space left on device : '{optimizerPath}'", 28);
        });
}
