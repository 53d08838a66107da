using System.Text.Json.Nodes;
using FinQLora.Data;
using FinQLora.Evaluation;
using FinQLora.Tasks;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Evaluation;

public class RescoringTests
{
    public static IEnumerable<object[]> SharedFlareSamples() =>
        new[] { "ner", "finqa", "headlines", "bigdata22" }.Select(t => new object[] { t });

    [Theory]
    [MemberData(nameof(SharedFlareSamples))]
    public void Gold_answers_score_perfectly_on_real_flare_rows(string task)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "samples", task, "test.jsonl");
        var (rows, _) = FlareJsonl.Read(path, FlareTasks.Get(task), "test");
        var preds = rows.Select(r => new Prediction { Task = task, PredictionText = r.Answer, Answer = r.Answer, Choices = r.Choices, Gold = r.Gold, Text = r.Text, Label = r.Label, LabelType = r.LabelType }).ToList();
        var m = FlareScorer.Score(preds)[FlareTasks.Get(task).Name];
        foreach (var (name, value) in m.Where(x => x.Key is not ("missing" or "defaulted" or "mcc")))
            Assert.True(value == 1.0, $"{task} {name} = {value}");
    }

    [Fact]
    public void Evaluate_rescores_a_predictions_file_without_a_model()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "predictions.jsonl");
        File.WriteAllLines(input, [
            """{"task": "fpb", "prediction": "Positive!", "answer": "positive", "choices": ["positive", "neutral", "negative"], "gold": 0}""",
            """{"task": "fpb", "prediction": "meh", "answer": "neutral", "choices": ["positive", "neutral", "negative"], "gold": 1}""",
            """{"task": "finqa", "prediction": "2.5", "answer": "2.5"}""",
        ]);
        var r = CliProcess.Run("evaluate", "--predictions", input, "--output", Path.Combine(dir, "out"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "out", "metrics.json")))!;
        Assert.Equal(0.5, metrics["fpb"]!["acc"]!.GetValue<double>());
        Assert.Equal(0.5, metrics["fpb"]!["missing"]!.GetValue<double>());
        Assert.Equal(1.0, metrics["finqa"]!["acc"]!.GetValue<double>());
        Assert.True(File.Exists(Path.Combine(dir, "out", "summary.md")));
    }

    [Fact]
    public void Rescoring_through_the_cli_gives_the_hand_worked_metrics()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "predictions.jsonl");
        const string fpb = "\"choices\": [\"positive\", \"neutral\", \"negative\"]";
        const string sm = "\"choices\": [\"Rise\", \"Fall\"]";
        const string hl = "\"choices\": [\"Yes\", \"No\"]";
        File.WriteAllLines(input, [
            // fpb: gold pos neu neg neg pos; parsed pos neg neg missing pos
            $$"""{"task": "fpb", "prediction": "Positive.", "answer": "positive", {{fpb}}, "gold": 0}""",
            $$"""{"task": "fpb", "prediction": "negative", "answer": "neutral", {{fpb}}, "gold": 1}""",
            $$"""{"task": "fpb", "prediction": "negative", "answer": "negative", {{fpb}}, "gold": 2}""",
            $$"""{"task": "fpb", "prediction": "no idea", "answer": "negative", {{fpb}}, "gold": 2}""",
            $$"""{"task": "fpb", "prediction": "positive", "answer": "positive", {{fpb}}, "gold": 0}""",
            // bigdata22: gold R R R F; parsed R R F F ("no" and "neutral" are fall aliases)
            $$"""{"task": "bigdata22", "prediction": "Rise", "answer": "Rise", {{sm}}, "gold": 0}""",
            $$"""{"task": "bigdata22", "prediction": "positive", "answer": "Rise", {{sm}}, "gold": 0}""",
            $$"""{"task": "bigdata22", "prediction": "no", "answer": "Rise", {{sm}}, "gold": 0}""",
            $$"""{"task": "bigdata22", "prediction": "neutral", "answer": "Fall", {{sm}}, "gold": 1}""",
            // headlines: Price Up all right; Price Down gold Yes No, parsed No No ("yes" is not "Yes")
            $$"""{"task": "headlines", "prediction": "Yes", "answer": "Yes", {{hl}}, "gold": 0, "label_type": "Price Up"}""",
            $$"""{"task": "headlines", "prediction": "No", "answer": "No", {{hl}}, "gold": 1, "label_type": "Price Up"}""",
            $$"""{"task": "headlines", "prediction": "yes", "answer": "Yes", {{hl}}, "gold": 0, "label_type": "Price Down"}""",
            $$"""{"task": "headlines", "prediction": "No", "answer": "No", {{hl}}, "gold": 1, "label_type": "Price Down"}""",
        ]);
        var r = CliProcess.Run("evaluate", "--predictions", input, "--output", Path.Combine(dir, "out"));
        Assert.True(r.ExitCode == 0, r.Stderr);
        var m = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "out", "metrics.json")))!;
        double V(string task, string metric) => m[task]![metric]!.GetValue<double>();
        // fpb (TP, FP, FN): pos (2,0,0) F1 1, neu (0,0,1) F1 0, neg (1,1,1) F1 .5; supports 2 1 2
        Assert.Equal(0.6, V("fpb", "acc"), 6);
        Assert.Equal(0.2, V("fpb", "missing"), 6);
        Assert.Equal((1.0 * 2 + 0 + 0.5 * 2) / 5, V("fpb", "f1"), 6);
        Assert.Equal((1.0 + 0 + 0.5) / 3, V("fpb", "macro_f1"), 6);
        // classes pos neu neg other: t = 2 1 2 0, p = 2 0 2 1, c = 3, s = 5 → (15 − 8) / sqrt((25 − 9)(25 − 9)) = 7/16
        Assert.Equal(7.0 / 16, V("fpb", "mcc"), 6);
        // bigdata22: Rise (2,0,1) F1 .8 support 3, Fall (1,1,0) F1 2/3 support 1
        Assert.Equal(0.75, V("bigdata22", "acc"), 6);
        Assert.Equal((0.8 * 3 + 2.0 / 3) / 4, V("bigdata22", "f1"), 6);
        Assert.Equal((0.8 + 2.0 / 3) / 2, V("bigdata22", "macro_f1"), 6);
        // t = 3 1, p = 2 2, c = 3, s = 4 → (12 − 8) / sqrt((16 − 8)(16 − 10)) = 4 / sqrt(48)
        Assert.Equal(4 / Math.Sqrt(48), V("bigdata22", "mcc"), 6);
        Assert.Equal(0.0, V("bigdata22", "missing"));
        // headlines: Price Up F1 1; Price Down: Yes (0,0,1) F1 0, No (1,1,0) F1 2/3, weighted 1/3 → mean 2/3
        Assert.Equal((1 + 1.0 / 3) / 2, V("headlines", "avg_f1"), 6);
        Assert.Equal(0.75, V("headlines", "acc"), 6);
        var summary = File.ReadAllText(Path.Combine(dir, "out", "summary.md"));
        Assert.Contains("| fpb | 5 |", summary);
        Assert.Contains("mcc 0.4375", summary);
    }

    [Theory]
    [InlineData("""{"task": "fpb", "prediction": "x", "answer": "positive"}""", "need \"choices\" and \"gold\"")]
    [InlineData("""{"task": "nosuch", "prediction": "x", "answer": "y"}""", "unknown task 'nosuch'")]
    [InlineData("""{"task": "ner", "prediction": "x", "answer": "y"}""", "need \"text\"")]
    [InlineData("""{"task": "finqa", "answer": "y"}""", "missing field \"prediction\"")]
    [InlineData("""{"task": "finqa", "prediction": "1", "answer": 2.5}""", "field \"answer\" must be a string, got 2.5")]
    [InlineData("""{"task": "fpb", "prediction": "x", "answer": "a", "choices": ["a", 1], "gold": 0}""", "field \"choices\" must be a list of strings")]
    [InlineData("""{"task": "fpb", "prediction": "x", "answer": "a", "choices": ["a"], "gold": 3}""", "\"gold\" 3 is outside the 1 choices")]
    [InlineData("""{"task": "headlines", "prediction": "Yes", "answer": "Yes", "choices": ["Yes", "No"], "gold": 0}""", "need \"label_type\"")]
    [InlineData("""not json""", "invalid JSON")]
    [InlineData("""{"task": "finqa", "prediction": "1", "answer": "1", "answer": "2"}""", "invalid JSON (Duplicate property 'answer'")]
    public void Bad_prediction_lines_name_file_line_and_field(string line, string expected)
    {
        var path = Path.Combine(Fixtures.TempDir(), "p.jsonl");
        File.WriteAllLines(path, [line]);
        var e = Assert.Throws<FinQLoraException>(() => PredictionsFile.Read(path));
        Assert.Contains($"{path}:1", e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_predictions_file_without_newlines_is_refused_at_the_line_cap()
    {
        var path = Fixtures.OneLongLine(Path.Combine(Fixtures.TempDir(), "p.jsonl"), 64L << 20, "{\"task\": \"fpb\", \"prediction\": \"");
        var (e, allocated) = Fixtures.ThrowsAllocating(() => PredictionsFile.Read(path));
        Assert.Equal($"{path}:1: a line over 16,777,216 characters (not JSON Lines, or corrupt)", e.Message);
        Assert.True(allocated < 96L << 20, $"{allocated:N0} bytes allocated");
    }

    private static string PredictionsOf(string dir, string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Evaluate_refuses_a_folder_with_an_earlier_evaluation_unless_overwrite_and_then_replaces_all_three_files()
    {
        var dir = Fixtures.TempDir();
        var out_ = Path.Combine(dir, "out");
        var first = PredictionsOf(dir, "first.jsonl", """{"task": "fpb", "prediction": "positive", "answer": "positive", "choices": ["positive", "negative"], "gold": 0}""");
        var second = PredictionsOf(dir, "second.jsonl", """{"task": "finqa", "prediction": "3", "answer": "2"}""");
        Assert.Equal(0, CliProcess.Run("evaluate", "--predictions", first, "--output", out_).ExitCode);
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(Path.Combine(out_, "predictions.jsonl")));   // the folder holds what it scored
        var before = File.ReadAllText(Path.Combine(out_, "metrics.json"));

        var refused = CliProcess.Run("evaluate", "--predictions", second, "--output", out_);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"error: the output folder {out_} already holds files (an earlier evaluation?): pass --overwrite to replace its predictions.jsonl, metrics.json and summary.md, or choose another folder (--output DIR)", refused.Stderr);
        Assert.Equal(before, File.ReadAllText(Path.Combine(out_, "metrics.json")));
        Assert.Equal(File.ReadAllText(first), File.ReadAllText(Path.Combine(out_, "predictions.jsonl")));

        var replaced = CliProcess.Run("evaluate", "--predictions", second, "--output", out_, "--overwrite");
        Assert.True(replaced.ExitCode == 0, replaced.Stderr);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(out_, "metrics.json")))!.AsObject();
        Assert.Equal(["finqa"], metrics.Select(kv => kv.Key));
        Assert.Equal(0.0, metrics["finqa"]!["acc"]!.GetValue<double>());
        Assert.Equal(File.ReadAllText(second), File.ReadAllText(Path.Combine(out_, "predictions.jsonl")));
        Assert.Contains("| finqa | 1 |", File.ReadAllText(Path.Combine(out_, "summary.md")));

        // re-scoring in place: the folder's own predictions.jsonl, kept as it is
        var inPlace = CliProcess.Run("evaluate", "--predictions", Path.Combine(out_, "predictions.jsonl"), "--output", out_, "--overwrite");
        Assert.True(inPlace.ExitCode == 0, inPlace.Stderr);
        Assert.Equal(File.ReadAllText(second), File.ReadAllText(Path.Combine(out_, "predictions.jsonl")));
        Assert.Equal(["metrics.json", "predictions.jsonl", "summary.md"], Directory.GetFiles(out_).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Tiny_model_evaluates_on_the_bundled_samples()
    {
        var dir = Fixtures.TempDir();
        var data = Path.Combine(dir, "data");
        DatasetPreparer.PrepareLocal(Path.Combine(AppContext.BaseDirectory, "samples"), data, FlareTasks.All, false);
        var r = CliProcess.Run("evaluate", "--model", "tiny", "--data", data, "--output", Path.Combine(dir, "eval"), "--limit", "3", "--max-new-tokens", "4");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "eval", "metrics.json")))!.AsObject();
        Assert.Equal(new[] { "acl18", "bigdata22", "cikm18", "finqa", "fiqasa", "fpb", "headlines", "ner" }, metrics.Select(kv => kv.Key).Order());
        var preds = File.ReadAllLines(Path.Combine(dir, "eval", "predictions.jsonl"));
        Assert.Equal(24, preds.Length);
        var rescored = CliProcess.Run("evaluate", "--predictions", Path.Combine(dir, "eval", "predictions.jsonl"), "--output", Path.Combine(dir, "again"));
        Assert.Equal(File.ReadAllText(Path.Combine(dir, "eval", "metrics.json")), File.ReadAllText(Path.Combine(dir, "again", "metrics.json")));
    }
}

public class LogLikModeTests
{
    [Fact]
    public void Loglik_mode_picks_one_of_the_choices_for_classification_rows()
    {
        var dir = Fixtures.TempDir();
        var r = CliProcess.Run("evaluate", "--model", "tiny", "--data", Path.Combine(AppContext.BaseDirectory, "samples"), "--tasks", "fpb,bigdata22",
            "--output", dir, "--limit", "3", "--mode", "loglik");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var preds = PredictionsFile.Read(Path.Combine(dir, "predictions.jsonl"));
        Assert.Equal(6, preds.Count);
        Assert.All(preds, p => Assert.Contains(p.PredictionText, p.Choices!));
        var metrics = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "metrics.json")))!;
        Assert.Equal(0.0, metrics["fpb"]!["missing"]!.GetValue<double>());
    }
}
