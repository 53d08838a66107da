using System.Runtime.InteropServices;

namespace FinQLora.Training;

/// <summary>
/// SIGINT (Ctrl+C) and SIGTERM ask the run to stop gracefully: the handler only sets
/// <see cref="Requested"/> (and cancels the default termination); the training loop checks it after
/// each optimizer step, writes a checkpoint and exits 0 with <see cref="ResumeHint"/>. A second
/// SIGINT while stopping is left to the default handler, which ends the process at once, unless it
/// comes within <see cref="DuplicateWindow"/> of the first: `timeout -s INT` (coreutils) signals its
/// child and then its whole process group, so one request arrives twice (measured on the GPU machine,
/// docs/GPU.md). Dispose to restore the default handlers.
/// </summary>
public sealed class StopSignal : IDisposable
{
    private readonly List<PosixSignalRegistration> _registrations = [];
    private volatile int _signals;
    private volatile string? _signal;
    private long _firstSignalTicks;

    /// <summary>A repeated SIGINT this soon after the first counts as the same request.</summary>
    public static readonly TimeSpan DuplicateWindow = TimeSpan.FromSeconds(2);

    public bool Requested => _signals > 0;
    /// <summary>The signal that asked to stop ("SIGINT", "SIGTERM", or "request").</summary>
    public string? Signal => _signal;

    /// <summary>A stop signal that listens to SIGINT and SIGTERM (where the platform has them).</summary>
    public static StopSignal Listen()
    {
        var s = new StopSignal();
        foreach (var sig in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            try
            {
                s._registrations.Add(PosixSignalRegistration.Create(sig, ctx => s.OnSignal(ctx)));
            }
            catch (PlatformNotSupportedException) { }
        }
        return s;
    }

    /// <summary>A stop signal that only stops when <see cref="Request"/> is called (tests, embedding).</summary>
    public static StopSignal Manual() => new();

    public void Request(string why = "request")
    {
        _signal ??= why;
        Interlocked.Increment(ref _signals);
    }

    private void OnSignal(PosixSignalContext ctx)
    {
        // first signal: stop after this step; later SIGINTs fall through to the default (immediate exit),
        // except a duplicate delivery of the first
        long now = Environment.TickCount64;
        if (Interlocked.Increment(ref _signals) == 1)
        {
            Interlocked.Exchange(ref _firstSignalTicks, now);
            ctx.Cancel = true;
        }
        else if (ctx.Signal == PosixSignal.SIGTERM || now - Interlocked.Read(ref _firstSignalTicks) < DuplicateWindow.TotalMilliseconds) ctx.Cancel = true;
        _signal ??= ctx.Signal == PosixSignal.SIGINT ? "SIGINT" : "SIGTERM";
    }

    /// <summary>The message printed when the loop stops on request.</summary>
    public static string ResumeHint(string resumeCommand, string output, long step) =>
        $"stopped at step {step} on request; the checkpoint is in {Path.Combine(output, "checkpoints")}. Resume with: {resumeCommand}";

    /// <summary>
    /// Restores the default handlers, unless a stop was requested: that process is on its way out, and a late
    /// duplicate SIGINT must not turn its graceful exit (checkpoint written, exit 0) into an exit by signal.
    /// </summary>
    public void Dispose()
    {
        if (Requested && _registrations.Count > 0) return;
        foreach (var r in _registrations) r.Dispose();
        _registrations.Clear();
    }
}
