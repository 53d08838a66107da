using System.Text.RegularExpressions;
using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Monitoring;
using FinQLora.Runs;
using FinQLora.Tests.Cli;
using FinQLora.Training;

namespace FinQLora.Tests.Reliability;

/// <summary>
/// The real `finqlora train` on the tiny model, SIGKILLed at 10 seeded random points (once during
/// start-up, three times in the middle of a checkpoint write through FINQLORA_FAULT, the others a random
/// few milliseconds after a step's log line, which lands in steps and in checkpoint writes alike), each
/// time resumed with --resume, and the resumed run killed again at the next point. After every kill the
/// newest complete checkpoint is loadable and nothing older than the kill is lost; every half-written
/// checkpoint is reported by the resume that skips it; the run that finally finishes has the
/// uninterrupted run's adapter bytes and losses.
/// </summary>
[Collection(TinyTrainRunCollection.Name)]
[Trait("Category", "Slow")]
public sealed partial class KillAndResumeTests(TinyTrainRun run)
{
    private const int Kills = 10;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    /// <summary>
    /// A kill point: after step <paramref name="Step"/>'s log line (0: after start-up's "trainable params" line)
    /// and <paramref name="DelayMs"/>; or, with <paramref name="InCheckpoint"/>, inside the write of checkpoint <paramref name="Step"/>.
    /// </summary>
    private sealed record KillPoint(int Step, bool InCheckpoint, int DelayMs)
    {
        public override string ToString() => InCheckpoint ? $"inside checkpoint {Step}" : $"{DelayMs} ms after step {Step}";
    }

    /// <summary>10 points in step order: start-up, then 9 distinct steps of 1..12, three of the even (checkpoint) ones inside the write.</summary>
    private static List<KillPoint> Plan(int seed)
    {
        var rng = new Random(seed);
        var steps = Enumerable.Range(1, TinyTrainRun.Steps - 4).OrderBy(_ => rng.Next()).Take(Kills - 1).Order().ToList();
        var inCheckpoint = steps.Where(s => s % TinyTrainRun.CheckpointEvery == 0).OrderBy(_ => rng.Next()).Take(3).ToHashSet();
        return [new KillPoint(0, false, rng.Next(0, 300)), .. steps.Select(s => new KillPoint(s, inCheckpoint.Contains(s), rng.Next(0, 60)))];
    }

    [Fact]
    public void A_run_killed_at_ten_random_points_and_resumed_each_time_ends_with_the_uninterrupted_adapter()
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("FINQLORA_FAULT_SEED"), out var s) ? s : 20261129;
        var plan = Plan(seed);
        Assert.Equal(3, plan.Count(p => p.InCheckpoint));
        var output = Path.Combine(run.Root, $"killed-{seed}");
        var store = new CheckpointStore(Path.Combine(output, "checkpoints"), keepLast: 2);
        long newestBefore = 0;   // the newest complete checkpoint that must survive (0: none yet)

        for (int i = 0; i <= plan.Count; i++)
        {
            var point = i < plan.Count ? plan[i] : null;
            // a late kill may have let the run get past the planned checkpoint: then the next one
            if (point is { InCheckpoint: true } && point.Step <= newestBefore) point = point with { Step = (int)newestBefore + TinyTrainRun.CheckpointEvery };
            string where = $"seed {seed}, link {i} ({point?.ToString() ?? "no kill"}); plan: {string.Join("; ", plan)}";
            var leftovers = HalfWritten(output);
            var env = point is { InCheckpoint: true } ? new Dictionary<string, string> { ["FINQLORA_FAULT"] = $"kill-during-checkpoint:{point.Step}" } : [];
            using var p = CliProcess.Start(env, i == 0 ? run.TrainArgs(output) : run.ResumeArgs(output));
            long lastLogged = 0;
            if (point is { InCheckpoint: false })
            {
                // the first line at or past the point: a resumed run may start beyond it
                var line = p.WaitForLine(l => point.Step == 0 ? l.Contains("trainable params") : StepOf(l) >= point.Step, Limit);
                Assert.True(line is not null, $"{where}: the run ended before the kill point");
                lastLogged = point.Step == 0 ? 0 : StepOf(line!);
                Thread.Sleep(point.DelayMs);
                p.Kill();
            }
            var (code, log) = p.WaitForExit(Limit);
            where += "\n" + log;

            // the resume reported each half-written checkpoint it found, and said where it continued
            foreach (var name in leftovers) Assert.True(log.Contains($"skipping the half-written checkpoint {name}: its write was interrupted"), $"{where}\nnot reported: {name}");
            if (i > 0)
                Assert.True(log.Contains(newestBefore == 0 ? "has no complete checkpoint yet; starting again from step 0"
                    : $"resumed from {Path.Combine(store.Dir, CheckpointStore.NameOf(newestBefore))} (step {newestBefore} of {TinyTrainRun.Steps})"), where);

            if (point is null) { Assert.True(code == 0, $"{where}: exit code {code}"); break; }
            Assert.True(code == 137, $"{where}: expected death by SIGKILL (137), got {code}");
            var newest = store.FindLatest()?.Step ?? 0;
            if (point.InCheckpoint)
            {
                // killed inside checkpoint N: N is a temporary folder, N - 2 the newest complete one
                Assert.Contains(HalfWritten(output), n => n.StartsWith($".{CheckpointStore.NameOf(point.Step)}.tmp-", StringComparison.Ordinal));
                Assert.True(newest == point.Step - TinyTrainRun.CheckpointEvery, $"{where}: newest complete {newest}");
            }
            else
            {
                // every checkpoint written before the step line that triggered the kill survives
                long writtenBeforeLine = Math.Max(0, lastLogged - 1) / TinyTrainRun.CheckpointEvery * TinyTrainRun.CheckpointEvery;
                Assert.True(newest >= Math.Max(newestBefore, writtenBeforeLine), $"{where}: newest complete {newest}, expected at least {Math.Max(newestBefore, writtenBeforeLine)}");
            }
            if (newest > 0) AssertLoadable(Path.Combine(store.Dir, CheckpointStore.NameOf(newest)), newest);
            newestBefore = newest;
        }

        Assert.Equal(File.ReadAllBytes(TinyTrainRun.AdapterWeights(run.Straight)), File.ReadAllBytes(TinyTrainRun.AdapterWeights(output)));
        Assert.Equal(MetricsJsonl.Read(Path.Combine(run.Straight, "metrics.jsonl")).Train.Select(m => (m.Step, m.Loss)),
                     MetricsJsonl.Read(Path.Combine(output, "metrics.jsonl")).Train.Select(m => (m.Step, m.Loss)));
        Assert.Empty(HalfWritten(output));
        Assert.Empty(Directory.GetFiles(output, ".*.tmp-*", SearchOption.AllDirectories));
    }

    /// <summary>The temporary folders of checkpoint writes that did not finish.</summary>
    private static List<string> HalfWritten(string output)
    {
        var dir = Path.Combine(output, "checkpoints");
        return Directory.Exists(dir) ? Directory.GetDirectories(dir).Select(Path.GetFileName).Where(n => n!.StartsWith('.')).Select(n => n!).ToList() : [];
    }

    /// <summary>The checkpoint verifies, and every file a resume reads parses: trainer state, tensors, optimizer state, adapter.</summary>
    private static void AssertLoadable(string dir, long step)
    {
        Assert.Null(CheckpointStore.Verify(dir));
        Assert.Equal(step, TrainerState.Load(Path.Combine(dir, RunLayout.TrainerStateFile)).Step);
        foreach (var file in new[] { RunLayout.TrainableFile, RunLayout.OptimizerFile, Path.Combine(RunLayout.AdapterDir, PeftAdapterFiles.WeightsFile) })
        {
            using var f = SafeTensorsFile.Open(Path.Combine(dir, file));
            Assert.NotEmpty(f.Names);
            foreach (var name in f.Names) f.Load(name).Dispose();
        }
        Assert.Equal(4, PeftAdapterFiles.ReadSettings(Path.Combine(dir, RunLayout.AdapterDir)).R);
    }

    private static long StepOf(string line) => StepLine().Match(line) is { Success: true } m ? long.Parse(m.Groups[1].Value) : -1;

    [GeneratedRegex(@"^test step (\d+)/\d+ ")]
    private static partial Regex StepLine();
}
