using System.Globalization;

namespace FinQLora.Evaluation;

/// <summary>
/// Where one task's evaluation stands, after each batch: rows done of the task's total, of which
/// <see cref="Resumed"/> were finished by an earlier, interrupted run (read back, not generated again), the
/// new tokens generated and the time spent on this task in this run. Rate and ETA count only this run's
/// rows over this task's own clock, so a later task (or a resumed one) never shows the rate of another.
/// </summary>
public sealed record EvaluationProgress(string Task, int Done, int Total, int Resumed, long NewTokens, TimeSpan Elapsed)
{
    /// <summary>Rows produced in this run (<see cref="Done"/> less the rows read back).</summary>
    public int Generated => Done - Resumed;

    /// <summary>Rows per second in this run; null before the first batch of this run.</summary>
    public double? RowsPerSecond => Generated > 0 && Elapsed > TimeSpan.Zero ? Generated / Elapsed.TotalSeconds : null;

    public double? TokensPerSecond => Generated > 0 && Elapsed > TimeSpan.Zero ? NewTokens / Elapsed.TotalSeconds : null;

    /// <summary>The time left for this task at this run's rate; zero when it is done, null when there is no rate yet.</summary>
    public TimeSpan? Eta => Done >= Total ? TimeSpan.Zero : RowsPerSecond is { } r ? TimeSpan.FromSeconds((Total - Done) / r) : null;

    /// <summary>One line: <c>fpb: 12/20 rows (4 resumed), 2.1 rows/s, 35 tok/s, ETA 00:00:04</c>.</summary>
    public string Line() => string.Create(CultureInfo.InvariantCulture,
        $"{Task}: {Done}/{Total} rows{(Resumed > 0 ? $" ({Resumed} resumed)" : "")}, {Rate(RowsPerSecond, "F1")} rows/s, {Rate(TokensPerSecond, "F0")} tok/s, ETA {Monitoring.ProgressDisplay.FormatEta(Eta)}");

    private static string Rate(double? v, string format) => v is { } x ? x.ToString(format, CultureInfo.InvariantCulture) : "-";
}
