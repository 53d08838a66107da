using FinQLora.Evaluation;

namespace FinQLora.Tests.Evaluation;

public class PredictionsLogTests
{
    private static Prediction P(int row, string task = "finqa") => new() { Task = task, Id = $"q{row}", Row = row, PredictionText = $"{row}.0", Answer = $"{row}" };

    private static string Line(int row) => PredictionsFile.Line(P(row)) + "\n";

    [Fact]
    public void A_new_log_empties_the_file_and_appends_each_batch_as_whole_lines()
    {
        var path = Path.Combine(Fixtures.TempDir(), "predictions.jsonl");
        File.WriteAllText(path, "old\n");
        using (var log = PredictionsLog.Open(path, resume: false))
        {
            Assert.Empty(log.Done);
            log.Append([P(0), P(1)]);
            Assert.Equal(Line(0) + Line(1), File.ReadAllText(path));   // on disk before the next batch
            log.Append([P(2)]);
        }
        Assert.Equal(Line(0) + Line(1) + Line(2), File.ReadAllText(path));
    }

    [Fact]
    public void Resuming_drops_a_torn_last_line_and_reports_it()
    {
        var path = Path.Combine(Fixtures.TempDir(), "predictions.jsonl");
        File.WriteAllText(path, Line(0) + Line(1) + Line(2)[..20]);
        var messages = new List<string>();
        using (var log = PredictionsLog.Open(path, resume: true, messages.Add))
        {
            Assert.Equal([("finqa", 0), ("finqa", 1)], log.Done.Keys.Order());
            log.Append([P(2), P(3)]);
        }
        Assert.Equal($"{path}: dropped a torn last line (20 bytes; its batch was cut off by the interruption and runs again)", Assert.Single(messages));
        Assert.Equal(Line(0) + Line(1) + Line(2) + Line(3), File.ReadAllText(path));
    }

    [Fact]
    public void A_file_that_is_one_torn_line_resumes_as_empty()
    {
        var path = Path.Combine(Fixtures.TempDir(), "predictions.jsonl");
        File.WriteAllText(path, Line(0)[..30]);
        using var log = PredictionsLog.Open(path, resume: true);
        Assert.Empty(log.Done);
        Assert.Equal(0, new FileInfo(path).Length);
    }

    [Fact]
    public void A_batch_run_again_replaces_its_rows_at_the_end_of_the_file_instead_of_adding_them_twice()
    {
        var path = Path.Combine(Fixtures.TempDir(), "predictions.jsonl");
        File.WriteAllText(path, Line(0) + Line(1) + Line(2));   // row 3 of the batch {2, 3} never reached the file
        using (var log = PredictionsLog.Open(path, resume: true)) log.Append([P(2) with { PredictionText = "again" }, P(3)]);
        Assert.Equal(Line(0) + Line(1) + PredictionsFile.Line(P(2) with { PredictionText = "again" }) + "\n" + Line(3), File.ReadAllText(path));
    }

    [Fact]
    public void Resuming_refuses_lines_without_a_row_and_rows_that_are_there_twice()
    {
        var dir = Fixtures.TempDir();
        var noRow = Path.Combine(dir, "a.jsonl");
        File.WriteAllText(noRow, Line(0) + PredictionsFile.Line(P(1) with { Row = null }) + "\n");
        var e = Assert.Throws<FinQLoraException>(() => PredictionsLog.Open(noRow, resume: true));
        Assert.Equal($"{noRow}:2: no \"row\" field, so this row cannot be matched to the data (the file was not written by `finqlora evaluate`); start the evaluation again with --overwrite", e.Message);
        var twice = Path.Combine(dir, "b.jsonl");
        File.WriteAllText(twice, Line(0) + Line(1) + Line(0));
        e = Assert.Throws<FinQLoraException>(() => PredictionsLog.Open(twice, resume: true));
        Assert.Equal($"{twice}: finqa row 0 is in the file twice (the file was edited?); start the evaluation again with --overwrite", e.Message);
        var bad = Path.Combine(dir, "c.jsonl");
        File.WriteAllText(bad, Line(0) + "{\"task\":\"finqa\"}\n" + Line(2));
        e = Assert.Throws<FinQLoraException>(() => PredictionsLog.Open(bad, resume: true));
        Assert.Equal($"{bad}:2: missing field \"prediction\"", e.Message);
    }
}

public class EvaluationProgressTests
{
    [Fact]
    public void Rate_and_eta_count_only_this_runs_rows_on_the_tasks_own_clock()
    {
        // 40 of 100 rows done, 10 of them read back from an interrupted run: 30 rows in 15 s = 2 rows/s, 60 left = 30 s
        var p = new EvaluationProgress("fpb", 40, 100, 10, 600, TimeSpan.FromSeconds(15));
        Assert.Equal(30, p.Generated);
        Assert.Equal(2.0, p.RowsPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(30), p.Eta);
        Assert.Equal("fpb: 40/100 rows (10 resumed), 2.0 rows/s, 40 tok/s, ETA 00:00:30", p.Line());
        var start = new EvaluationProgress("ner", 10, 100, 10, 0, TimeSpan.FromSeconds(3));
        Assert.Null(start.Eta);
        Assert.Equal("ner: 10/100 rows (10 resumed), - rows/s, - tok/s, ETA --:--:--", start.Line());
        Assert.Equal(TimeSpan.Zero, new EvaluationProgress("ner", 100, 100, 100, 0, TimeSpan.Zero).Eta);
    }
}
