using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FinQLora.Monitoring;

/// <summary>
/// One line of gpu.jsonl:
/// <c>{"time":"2026-11-28T20:00:01Z","t_s":1.0,"gpu":0,"util_pct":97,"mem_used_mib":7000,"mem_total_mib":143771,"power_w":450.2,"temp_c":55,"sm_clock_mhz":1980}</c>.
/// <c>t_s</c> is seconds since the monitor started; a value the GPU does not report is null.
/// </summary>
public sealed record GpuSample(
    [property: JsonPropertyName("time")] string Time,
    [property: JsonPropertyName("t_s")] double TS,
    [property: JsonPropertyName("gpu")] int Gpu,
    [property: JsonPropertyName("util_pct")] uint? UtilPct,
    [property: JsonPropertyName("mem_used_mib")] long? MemUsedMib,
    [property: JsonPropertyName("mem_total_mib")] long? MemTotalMib,
    [property: JsonPropertyName("power_w")] double? PowerW,
    [property: JsonPropertyName("temp_c")] uint? TempC,
    [property: JsonPropertyName("sm_clock_mhz")] uint? SmClockMhz)
{
    public string ToJson() => JsonSerializer.Serialize(this);
}

/// <summary>
/// Samples every NVIDIA GPU through NVML once a second on a background thread and appends the
/// samples to gpu.jsonl. Without the NVIDIA driver or a GPU it writes one line
/// <c>{"time":…,"note":"no NVIDIA GPU monitoring: …"}</c>, exposes the same sentence as
/// <see cref="Note"/> (for the caller to log once), and does nothing else.
/// </summary>
public sealed class GpuMonitor : IDisposable
{
    private readonly Func<int, GpuReadingSnapshot?>? _read;
    private readonly int _gpus;
    private readonly IDisposable? _owner;
    private readonly FileStream? _out;
    private readonly Thread? _thread;
    private readonly ManualResetEventSlim _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TimeSpan _interval;
    private readonly object _gate = new();
    private readonly GpuSample?[] _latest;

    /// <summary>Null when sampling; otherwise the sentence saying why there is no GPU monitoring.</summary>
    public string? Note { get; }
    public bool Available => Note is null;
    public int GpuCount => _gpus;

    private GpuMonitor(string path, TimeSpan interval, int gpus, Func<int, GpuReadingSnapshot?>? read, IDisposable? owner, string? note)
    {
        _interval = interval;
        _gpus = gpus;
        _read = read;
        _owner = owner;
        Note = note;
        _latest = new GpuSample?[gpus];
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _out = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        if (note is not null)
        {
            WriteLine(JsonSerializer.Serialize(new { time = Utc(DateTime.UtcNow), note }));
            return;
        }
        _thread = new Thread(Loop) { IsBackground = true, Name = "finqlora-gpu-monitor" };
        _thread.Start();
    }

    /// <summary>Starts monitoring into <paramref name="path"/> (normally OUTPUT/gpu.jsonl), sampling every <paramref name="interval"/> (default 1 s).</summary>
    public static GpuMonitor Start(string path, TimeSpan? interval = null)
    {
        var nvml = Nvml.TryOpen(out var reason);
        if (nvml is null) return new GpuMonitor(path, interval ?? TimeSpan.FromSeconds(1), 0, null, null, reason);
        return new GpuMonitor(path, interval ?? TimeSpan.FromSeconds(1), nvml.DeviceCount,
            nvml.Read, nvml, null);
    }

    /// <summary>A monitor over a given reading function (tests, other sources).</summary>
    public static GpuMonitor StartWith(string path, int gpus, Func<int, GpuReadingSnapshot?> read, TimeSpan interval) =>
        new(path, interval, gpus, read, null, null);

    /// <summary>The most recent sample of GPU <paramref name="gpu"/>, if any (e.g. for gpu_mem_gib in metrics.jsonl).</summary>
    public GpuSample? Latest(int gpu = 0)
    {
        lock (_gate) return gpu < _latest.Length ? _latest[gpu] : null;
    }

    private void Loop()
    {
        do
        {
            var now = DateTime.UtcNow;
            double t = Math.Round(_clock.Elapsed.TotalSeconds, 1);
            var lines = new StringBuilder();
            for (int i = 0; i < _gpus; i++)
            {
                GpuReadingSnapshot? r;
                try { r = _read!(i); }
                catch (Exception) { r = null; }  // a failing read must not end the training run
                if (r is null) continue;
                var s = new GpuSample(Utc(now), t, i, r.UtilPct, r.MemUsedMib, r.MemTotalMib, r.PowerW, r.TempC, r.SmClockMhz);
                lock (_gate) _latest[i] = s;
                lines.Append(s.ToJson()).Append('\n');
            }
            if (lines.Length > 0) WriteLine(lines.ToString().TrimEnd('\n'));
        }
        while (!_stop.Wait(_interval));
    }

    private void WriteLine(string text)
    {
        lock (_gate)
        {
            try
            {
                _out!.Write(Encoding.UTF8.GetBytes(text + "\n"));
                _out.Flush();
            }
            catch (IOException) { }  // a full disk must not end the run from this thread
            catch (ObjectDisposedException) { }
        }
    }

    private static string Utc(DateTime t) => t.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Set();
        _thread?.Join(TimeSpan.FromSeconds(5));
        lock (_gate) _out?.Dispose();
        _owner?.Dispose();
        _stop.Dispose();
    }
}

/// <summary>One GPU's values at one moment, as a reading function returns them to <see cref="GpuMonitor.StartWith"/>.</summary>
public sealed record GpuReadingSnapshot(uint? UtilPct, long? MemUsedMib, long? MemTotalMib, double? PowerW, uint? TempC, uint? SmClockMhz);
