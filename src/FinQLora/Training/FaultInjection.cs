using System.Diagnostics;
using System.Globalization;
using FinQLora.IO;

namespace FinQLora.Training;

/// <summary>
/// TEST-ONLY fault injection, for the fault tests (tests/FinQLora.Tests/Reliability): the environment
/// variable <c>FINQLORA_FAULT</c> makes the write of one checkpoint fail at a known point — after its
/// adapter and trainable tensors are on disk, in the middle of its optimizer file — as a crash or a
/// full disk would make it fail there:
/// <list type="bullet">
/// <item><c>kill-during-checkpoint:STEP</c>: the process SIGKILLs itself (what <c>kill -9</c> does: no
/// finally blocks, no flushing), leaving checkpoint STEP half-written.</item>
/// <item><c>disk-full-at-checkpoint:STEP</c>: the write throws the IOException that a full disk gives on
/// Linux (ENOSPC, errno 28, "No space left on device").</item>
/// </list>
/// Unset (always, outside these tests) it does nothing. Not a user feature: no option, no config key.
/// </summary>
internal static class FaultInjection
{
    public const string Variable = "FINQLORA_FAULT";

    /// <summary>Called by the trainer while writing checkpoint <paramref name="step"/>, just before its optimizer file <paramref name="optimizerPath"/>.</summary>
    public static void BeforeOptimizerState(long step, string optimizerPath)
    {
        var spec = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(spec)) return;
        var parts = spec.Split(':');
        if (parts.Length != 2 || parts[0] is not ("kill-during-checkpoint" or "disk-full-at-checkpoint") || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var at))
            throw new FinQLoraException($"{Variable}={spec}: expected kill-during-checkpoint:STEP or disk-full-at-checkpoint:STEP (a test-only setting; unset it)");
        if (at != step) return;
        AtomicFile.Write(optimizerPath, stream =>
        {
            stream.Write(new byte[4096]);  // part of the file reaches the disk
            if (stream is FileStream file) file.Flush(flushToDisk: true);
            if (parts[0] == "kill-during-checkpoint")
            {
                Process.GetCurrentProcess().Kill();  // SIGKILL on Unix
                Thread.Sleep(Timeout.Infinite);
            }
            throw new IOException($"No space left on device : '{optimizerPath}'", 28);
        });
    }
}
