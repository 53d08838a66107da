using System.Text.RegularExpressions;
using FinQLora.Evaluation;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Reliability;

/// <summary>
/// The real `finqlora evaluate` (tiny model, fpb and headlines samples, 6 rows each in batches of 2), SIGKILLed at
/// three seeded random points (during start-up, a few milliseconds after a batch of the first task, after a batch
/// of the second) and resumed with --resume each time: after every kill predictions.jsonl holds whole, parseable
/// lines with no row twice (at most a torn last line); every resume generates exactly the rows the file lacks
/// (counted from its per-task progress lines); the final predictions and metrics equal an uninterrupted run's;
/// and --resume on the finished folder runs nothing.
/// </summary>
public sealed partial class EvaluateKillAndResumeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(4);
    private const int Rows = 12;

    private static string[] Args(string output, bool resume) =>
    [
        "evaluate", "--model", "tiny", "--data", Path.Combine(AppContext.BaseDirectory, "samples"), "--tasks", "fpb,headlines", "--limit", "6",
        "--batch-size", "2", "--max-new-tokens", "4", "--output", output, .. resume ? new[] { "--resume" } : [],
    ];

    [Fact]
    public void An_evaluation_killed_three_times_and_resumed_ends_as_the_uninterrupted_one_without_generating_a_row_twice()
    {
        var root = Fixtures.TempDir();
        var straight = Path.Combine(root, "straight");
        var r = CliProcess.Run(Args(straight, resume: false));
        Assert.True(r.ExitCode == 0, r.Stderr);

        var rng = new Random(20261202);
        // (the line after which to kill, the delay): start-up, a batch of fpb, a batch of headlines
        // the batch lines name how many rows a task holds so far (resumed ones included); a tiny model on an idle
        // machine finishes a batch in tens of milliseconds, so the delays stay short and any unfinished count matches
        var plan = new (Func<string, bool> After, int DelayMs, string Name)[]
        {
            (l => l.StartsWith("fpb: 6 rows", StringComparison.Ordinal), rng.Next(0, 15), "start-up"),
            (l => System.Text.RegularExpressions.Regex.IsMatch(l, "^fpb: [1-5]/6 rows"), rng.Next(0, 15), "fpb batch"),
            (l => System.Text.RegularExpressions.Regex.IsMatch(l, "^headlines: [1-5]/6 rows"), rng.Next(0, 15), "headlines batch"),
        };
        var output = Path.Combine(root, "killed");
        var predictions = Path.Combine(output, EvaluationFolder.Predictions);
        for (int i = 0; i <= plan.Length; i++)
        {
            int before = i == 0 ? 0 : WholeLines(predictions);
            var beforeByTask = i == 0 ? [] : PredictionsFile.Read(predictions).GroupBy(x => x.Task).ToDictionary(g => g.Key, g => g.Count());
            using var p = CliProcess.Start(new Dictionary<string, string>(), Args(output, resume: i > 0));
            string where = $"link {i} ({(i < plan.Length ? plan[i].Name : "to the end")}), {before} rows in the file before";
            if (i < plan.Length)
            {
                var line = p.WaitForLine(plan[i].After, Limit);
                Assert.True(line is not null, $"{where}: the evaluation ended before the kill point");
                Thread.Sleep(plan[i].DelayMs);
                p.Kill();
            }
            var (code, log) = p.WaitForExit(Limit);
            where += "\n" + log;
            if (i > 0)
            {
                // each task it started took its finished rows from the file
                foreach (var (task, n) in beforeByTask)
                    if (log.Contains($"{task}: 6 rows (generate)")) Assert.True(log.Contains($"{task}: 6 rows (generate), {n} finished earlier"), $"{where}\n{task}: {n} rows finished earlier");
                // this run generated exactly what the file lacked (a batch is one write: its rows are all there or none)
                var final = FinalProgress(log);
                int resumed = final.Values.Sum(f => f.Resumed);
                if (i == plan.Length) Assert.True(resumed == before && final.Values.Sum(f => f.Done) == Rows, where);
                else Assert.True(resumed <= before, where);
            }
            if (i == plan.Length) { Assert.True(code == 0, where); break; }
            Assert.True(code == 137, $"{where}\nexpected death by SIGKILL (137), got {code}");
            var rows = PredictionsFile.Read(predictions);   // every complete line parses
            Assert.True(rows.Select(x => (x.Task, x.Row)).Distinct().Count() == rows.Count, $"{where}: a row is in the file twice");
        }

        Assert.Equal(Stripped(Path.Combine(straight, EvaluationFolder.Predictions)), Stripped(predictions));
        Assert.Equal(File.ReadAllText(Path.Combine(straight, EvaluationFolder.Metrics)), File.ReadAllText(Path.Combine(output, EvaluationFolder.Metrics)));

        // finished: --resume loads no model and changes nothing
        var stamp = File.GetLastWriteTimeUtc(predictions);
        var again = CliProcess.Run(Args(output, resume: true));
        Assert.True(again.ExitCode == 0, again.Stderr);
        Assert.Contains("this evaluation is finished (metrics.json is written); nothing to run", again.Stderr);
        Assert.DoesNotContain("rows/s", again.Stderr);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(predictions));
    }

    [Fact]
    public void Resume_refuses_other_settings_a_folder_without_an_evaluation_and_overwrite_with_it()
    {
        var dir = Fixtures.TempDir();
        var output = Path.Combine(dir, "eval");
        var none = CliProcess.Run(Args(output, resume: true));
        Assert.Equal(2, none.ExitCode);
        Assert.Contains($"error: --resume: {output} holds no evaluation to resume (no evaluation.json); start it without --resume", none.Stderr);
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, EvaluationManifest.FileName), "{\"batch_size\": \"4\"}");
        var other = CliProcess.Run(Args(output, resume: true));
        Assert.Equal(2, other.ExitCode);
        Assert.Contains($"error: --resume: the evaluation in {output} was started with other settings, and resuming it would mix two evaluations. Differences (saved → now): batch_size: 4 → 2;", other.Stderr);
        Assert.Contains("Resume with the options it was started with, or start again with --overwrite (or another --output).", other.Stderr);
        var both = CliProcess.Run([.. Args(output, resume: true), "--overwrite"]);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("error: --resume and --overwrite contradict each other: --resume keeps the finished rows in --output, --overwrite starts again; pass one", both.Stderr);
        Assert.Equal([EvaluationManifest.FileName], Directory.GetFiles(output).Select(Path.GetFileName));
    }

    /// <summary>The lines that end in a line end (a torn last line does not count).</summary>
    private static int WholeLines(string path) => File.Exists(path) ? File.ReadAllBytes(path).Count(b => b == (byte)'\n') : 0;

    private static List<string> Stripped(string path) => PredictionsFile.Read(path).Select(p => PredictionsFile.Line(p with { LatencyMs = null })).ToList();

    /// <summary>Each task's last progress line: rows done and rows read back from the interrupted run.</summary>
    private static Dictionary<string, (int Done, int Resumed)> FinalProgress(string log)
    {
        var result = new Dictionary<string, (int, int)>();
        foreach (Match m in ProgressLine().Matches(log))
            result[m.Groups[1].Value] = (int.Parse(m.Groups[2].Value), m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : 0);
        return result;
    }

    [GeneratedRegex(@"^(\w+): (\d+)/\d+ rows(?: \((\d+) resumed\))?, ", RegexOptions.Multiline)]
    private static partial Regex ProgressLine();
}
