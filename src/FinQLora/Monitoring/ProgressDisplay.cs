using System.Diagnostics;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace FinQLora.Monitoring;

/// <summary>
/// The live progress of a stage: stage, step/total, loss, tokens/s, ETA and GPU memory. On a
/// terminal it is a Spectre.Console live panel redrawn four times a second (with the latest log
/// messages above it); when the output is redirected (Console.IsOutputRedirected: a log file, CI)
/// it prints one plain line per logged step instead.
/// </summary>
public sealed class ProgressDisplay : IMetricsSink
{
    private readonly object _gate = new();
    private readonly bool _live;
    private readonly TextWriter _plain;
    private readonly Queue<string> _recent = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task? _renderer;
    private readonly CancellationTokenSource _stop = new();
    private long _startStep = -1;
    private TimeSpan _startTime;
    private TimeSpan _lastTime;
    private TrainMetrics? _last;
    private ValMetrics? _lastVal;

    public string Stage { get; }
    public long TotalSteps { get; }

    /// <param name="live">null: live when stdout is a terminal that Spectre.Console can drive.</param>
    public ProgressDisplay(string stage, long totalSteps, bool? live = null, TextWriter? plain = null)
    {
        Stage = stage;
        TotalSteps = totalSteps;
        _plain = plain ?? Console.Out;
        _live = live ?? (!Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive);
        if (_live) _renderer = Task.Run(RenderLoop);
    }

    public void Train(TrainMetrics m)
    {
        lock (_gate)
        {
            if (_startStep < 0) { _startStep = m.Step - 1; _startTime = _clock.Elapsed - TimeSpan.FromSeconds(m.StepTimeS); }
            _last = m;
            _lastTime = _clock.Elapsed;
        }
        if (!_live || RenderError is not null) _plain.WriteLine(PlainLine(m, Eta(m.Step)));
    }

    public void Val(ValMetrics m)
    {
        lock (_gate) _lastVal = m;
        if (!_live) _plain.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{m.Stage} step {m.Step}/{TotalSteps} val_loss {m.ValLoss:F4}"));
    }

    /// <summary>The task metrics, as one message: <c>stage1 step 20 tasks fpb acc 0.5000 f1 0.4100 …; select_best fpb.f1 0.4100 (best)</c>.</summary>
    public void Tasks(TaskMetrics m)
    {
        static string F(double? v) => v?.ToString("F4", CultureInfo.InvariantCulture) ?? "-";
        var tasks = string.Join("; ", m.Metrics.Select(t => $"{t.Key} {string.Join(" ", t.Value.Select(x => $"{x.Key} {F(x.Value)}"))}"));
        var best = m.SelectBest is { } sel ? $"; select_best {sel} {F(m.Score)}{(m.Best == true ? " (best)" : "")}" : "";
        Message($"{m.Stage} step {m.Step} tasks {tasks}{best}");
    }

    /// <summary>A log message: printed as a line, or kept above the live panel (the last eight).</summary>
    public void Message(string text)
    {
        if (!_live) { _plain.WriteLine(text); return; }
        lock (_gate)
        {
            _recent.Enqueue(text);
            while (_recent.Count > 8) _recent.Dequeue();
        }
    }

    /// <summary>The estimated time left after <paramref name="step"/> (the last logged step), counting down from its log line.</summary>
    public TimeSpan? Eta(long step)
    {
        lock (_gate) return EtaUnlocked(step);
    }

    /// <summary>
    /// The time left: the steps still to run × the mean step time (the clock from the first logged step's start to the
    /// last logged step, over the steps between), minus the time since the last log line (never below 0). Between log
    /// lines it counts down; it does not climb because the clock runs while the step count stands still.
    /// </summary>
    public static TimeSpan? Estimate(long totalSteps, long startStep, TimeSpan startTime, long lastStep, TimeSpan lastTime, TimeSpan now)
    {
        long done = lastStep - startStep;
        if (startStep < 0 || done <= 0) return null;
        double perStep = (lastTime - startTime).TotalSeconds / done;
        double left = Math.Max(0, totalSteps - lastStep) * perStep - Math.Max(0, (now - lastTime).TotalSeconds);
        return TimeSpan.FromSeconds(Math.Max(0, left));
    }

    public string PlainLine(TrainMetrics m, TimeSpan? eta) => string.Create(CultureInfo.InvariantCulture,
        $"{m.Stage} step {m.Step}/{TotalSteps} epoch {m.Epoch:F2} loss {m.Loss:F4} lr {Lr(m.Lr)} grad_norm {m.GradNorm:F3} tok/s {m.TokensPerS:F0} ETA {FormatEta(eta)}{(m.GpuMemGib is { } g ? $" gpu {g:F1} GiB" : "")}");

    private static string Lr(double lr) => lr == 0 ? "0" : lr.ToString("0.###e+0", CultureInfo.InvariantCulture);

    public static string FormatEta(TimeSpan? eta) => eta is not { } e ? "--:--:--" : $"{(int)e.TotalHours:00}:{e.Minutes:00}:{e.Seconds:00}";

    /// <summary>Set when the live panel failed; the display then continues with plain lines.</summary>
    internal Exception? RenderError { get; private set; }

    private async Task RenderLoop()
    {
        try
        {
            await AnsiConsole.Live(Render()).AutoClear(false).StartAsync(async ctx =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    ctx.UpdateTarget(Render());
                    try { await Task.Delay(250, _stop.Token); } catch (TaskCanceledException) { }
                }
                ctx.UpdateTarget(Render());
            });
        }
        catch (Exception e)
        {
            // a display problem must never end a training run: fall back to plain lines
            RenderError = e;
            _plain.WriteLine($"(live progress display off: {e.Message})");
        }
    }

    private IRenderable Render()
    {
        lock (_gate)
        {
            var rows = _recent.Select(r => (IRenderable)new Spectre.Console.Text(Printable.Escape(r))).ToList();
            var table = new Table().Border(TableBorder.Rounded).Title($"[bold]{Markup.Escape(Printable.Escape(Stage))}[/]");
            foreach (var c in new[] { "step", "loss", "lr", "tok/s", "ETA", "GPU mem", "val loss" }) table.AddColumn(c);
            var m = _last;
            double frac = m is null || TotalSteps == 0 ? 0 : Math.Min(1, (double)m.Step / TotalSteps);
            table.AddRow(
                m is null ? $"0/{TotalSteps}" : $"{m.Step}/{TotalSteps}",
                m is null ? "-" : m.Loss.ToString("F4", CultureInfo.InvariantCulture),
                m is null ? "-" : Lr(m.Lr),
                m is null ? "-" : m.TokensPerS.ToString("F0", CultureInfo.InvariantCulture),
                FormatEta(m is null ? null : EtaUnlocked(m.Step)),
                m?.GpuMemGib is { } g ? $"{g:F1} GiB" : "-",
                _lastVal is { } v ? v.ValLoss.ToString("F4", CultureInfo.InvariantCulture) : "-");
            rows.Add(table);
            rows.Add(new BreakdownChart().Width(60).AddItem("done", frac * 100, Color.Green).AddItem("left", (1 - frac) * 100, Color.Grey).HideTags());
            return new Rows(rows);
        }
    }

    private TimeSpan? EtaUnlocked(long step) =>
        Estimate(TotalSteps, _startStep, _startTime, step, step == _last?.Step ? _lastTime : _clock.Elapsed, _clock.Elapsed);

    private bool _disposed;

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _stop.Cancel();
        try { _renderer?.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
