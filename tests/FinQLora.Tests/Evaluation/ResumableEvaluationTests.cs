using System.Text;
using FinQLora.Data;
using FinQLora.Evaluation;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Tasks;
using static TorchSharp.torch;

namespace FinQLora.Tests.Evaluation;

/// <summary>
/// The evaluator with a <see cref="PredictionsLog"/> on the tiny parity model, in process: an evaluation cut off
/// after some batches (its file cut where a kill leaves it: after a batch, inside a batch's lines, inside a line)
/// and resumed ends with the uninterrupted evaluation's predictions, generates only the rows not finished, and
/// never holds a row twice; for generation, ConvFinQA's turn-by-turn dialogues (answers read back into later
/// prompts) and loglik.
/// </summary>
public sealed class ResumableEvaluationTests(ResumableEvaluationTests.Model model) : IClassFixture<ResumableEvaluationTests.Model>
{
    /// <summary>The model, and each uninterrupted evaluation's file (made once, cut by several cases).</summary>
    public sealed class Model : IDisposable
    {
        public ModelBundle Bundle { get; } = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        public Dictionary<string, (string File, List<string> Lines)> Uninterrupted { get; } = [];
        public void Dispose() => Bundle.Dispose();
    }


    private static List<FlareRow> Sentiment(int n) => Enumerable.Range(0, n).Select(i => new FlareRow
    {
        Id = $"s{i}", Task = "fpb", Query = $"Sentence {i}: the company {new string('x', i % 5)} reported {(i % 3 == 0 ? "growth" : "losses")} in quarter {i}. Answer:",
        Answer = "positive", Choices = ["positive", "neutral", "negative"], Gold = i % 3,
    }).ToList();

    /// <summary>Three dialogues of 3, 2 and 1 turns; later turns refer to the model's earlier answers.</summary>
    private static List<FlareRow> Dialogues() =>
    [
        .. new[] { (d: "a", turns: 3), (d: "b", turns: 2), (d: "c", turns: 1) }.SelectMany(x => Enumerable.Range(0, x.turns).Select(t => new FlareRow
        {
            Id = $"{x.d}{t}", Task = "convfinqa", DialogueId = x.d, Turn = t, Answer = "1",
            Query = t == 0 ? $"Dialogue {x.d}: what is the revenue?" : $"Dialogue {x.d}: earlier you said {{answer{t - 1}}}; and now?",
        })),
    ];

    private static string Strip(Prediction p) => PredictionsFile.Line(p with { LatencyMs = null });

    /// <summary>The predictions (latency aside) and the rows generated in the run.</summary>
    private (List<string> Lines, int Generated) Evaluate(FlareTask task, List<FlareRow> rows, EvaluationSettings s, PredictionsLog? store)
    {
        int generated = 0;
        var preds = Evaluator.RunTask(model.Bundle, task, rows, s, store, progress: p => generated = p.Generated);
        return (preds.Select(Strip).ToList(), generated);
    }

    // 7 fpb rows in batches of 2: 2, 2, 2, 1 rows. ConvFinQA: turn 0 (3 dialogues) 2 + 1 rows, turn 1 2 rows, turn 2 1 row.
    // kept: the complete lines left after the cut, less those of a batch that did not reach the file whole (it runs again).
    [Theory]
    [InlineData("fpb", "generate", 4, 0, 4)]        // cut after the 2nd batch
    [InlineData("fpb", "generate", 5, 0, 4)]        // inside the 3rd batch's lines (a torn multi-line write): it runs again
    [InlineData("fpb", "generate", 6, 17, 6)]       // after the 3rd batch, inside a line
    [InlineData("convfinqa", "generate", 3, 0, 3)]  // turn 0 done: turn 1's prompts hold the answers read back
    [InlineData("convfinqa", "generate", 4, 9, 3)]  // half of turn 1's batch, and a torn line
    [InlineData("fpb", "loglik", 3, 5, 2)]
    public void A_cut_off_evaluation_resumed_ends_as_the_uninterrupted_one_and_runs_only_the_missing_rows(string taskName, string mode, int keepLines, int tornBytes, int kept)
    {
        var task = FlareTasks.Get(taskName);
        var rows = taskName == "fpb" ? Sentiment(7) : Dialogues();
        var s = new EvaluationSettings([task], "unused", BatchSize: 2, MaxNewTokens: 3, Mode: mode);
        var dir = Fixtures.TempDir();
        if (!model.Uninterrupted.TryGetValue(taskName + mode, out var straight))
        {
            var path = Path.Combine(dir, "full.jsonl");
            using (var store = PredictionsLog.Open(path, resume: false)) model.Uninterrupted[taskName + mode] = straight = (path, Evaluate(task, rows, s, store).Lines);
        }
        var (full, expected) = straight;
        Assert.Equal(rows.Count, File.ReadAllLines(full).Length);

        // the file a kill leaves: its first lines, then part of the next line
        var lines = File.ReadAllLines(full);
        var cut = Path.Combine(dir, "cut.jsonl");
        File.WriteAllText(cut, string.Concat(lines.Take(keepLines).Select(l => l + "\n")) + lines[keepLines][..tornBytes]);

        var messages = new List<string>();
        using (var store = PredictionsLog.Open(cut, resume: true, messages.Add))
        {
            Assert.Equal(keepLines, store.Done.Count);
            var (resumed, generated) = Evaluate(task, rows, s, store);
            Assert.Equal(expected, resumed);
            Assert.Equal(rows.Count - kept, generated);
        }
        Assert.Equal(tornBytes > 0, messages.Any(m => m.Contains("dropped a torn last line")));
        var final = PredictionsFile.Read(cut);
        Assert.Equal(rows.Count, final.Select(p => p.Row).Distinct().Count());
        Assert.Equal(rows.Count, final.Count);
        Assert.Equal(expected.Order(StringComparer.Ordinal), final.Select(Strip).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Resuming_against_changed_data_is_refused()
    {
        var rows = Sentiment(3);
        var s = new EvaluationSettings([FlareTasks.Get("fpb")], "unused", BatchSize: 2, MaxNewTokens: 1);
        var path = Path.Combine(Fixtures.TempDir(), "predictions.jsonl");
        using (var store = PredictionsLog.Open(path, resume: false)) Evaluator.RunTask(model.Bundle, FlareTasks.Get("fpb"), rows, s, store);
        rows[0] = rows[0] with { Id = "other" };
        using var again = PredictionsLog.Open(path, resume: true);
        var e = Assert.Throws<FinQLoraException>(() => Evaluator.RunTask(model.Bundle, FlareTasks.Get("fpb"), rows, s, again));
        Assert.Equal($"{path}: fpb row 0 has id 's0' but the data's row 0 is 'other': the data changed since the evaluation started; start it again with --overwrite", e.Message);
    }
}
