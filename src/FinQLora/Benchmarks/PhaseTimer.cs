using System.Diagnostics;
using FinQLora.Cuda;

namespace FinQLora.Benchmarks;

/// <summary>One phase of a timed piece of work: GPU time between CUDA events, and the host's time to enqueue it.</summary>
public sealed record PhaseTime(string Phase, double GpuMs, double HostMs);

/// <summary>
/// Splits GPU work into named phases with CUDA events on the default stream (no synchronisation
/// until <see cref="Finish"/>). Comparing a phase's GPU time with the host time spent enqueuing it
/// shows whether it is bound by the GPU or by launching kernels (host ≥ GPU: launch-bound).
/// </summary>
public sealed class PhaseTimer : IDisposable
{
    private readonly List<(string Name, CudaDriver.Event Event, double HostMs)> _marks = [];
    private readonly Stopwatch _host = new();
    private readonly CudaDriver.Event _start = new();

    /// <summary>Starts the first phase (call after synchronising, so the GPU is idle).</summary>
    public void Start()
    {
        _start.Record();
        _host.Restart();
    }

    /// <summary>Ends the current phase, naming it, and starts the next.</summary>
    public void Mark(string phase)
    {
        var ev = new CudaDriver.Event();
        ev.Record();
        _marks.Add((phase, ev, _host.Elapsed.TotalMilliseconds));
    }

    /// <summary>Waits for the GPU and returns each phase's GPU and host milliseconds, in order.</summary>
    public IReadOnlyList<PhaseTime> Finish()
    {
        var result = new List<PhaseTime>();
        var previous = _start;
        double previousHost = 0;
        foreach (var (name, ev, host) in _marks)
        {
            result.Add(new PhaseTime(name, CudaDriver.Event.ElapsedMs(previous, ev), host - previousHost));
            previous = ev;
            previousHost = host;
        }
        return result;
    }

    public void Dispose()
    {
        _start.Dispose();
        foreach (var m in _marks) m.Event.Dispose();
    }
}
