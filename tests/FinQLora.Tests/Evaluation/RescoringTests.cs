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
        foreach (var (name, value) in m.Where(x => x.Key != "missing" && x.Key != "mcc"))
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

    [Theory]
    [InlineData("""{"task": "fpb", "prediction": "x", "answer": "positive"}""", "need \"choices\" and \"gold\"")]
    [InlineData("""{"task": "nosuch", "prediction": "x", "answer": "y"}""", "unknown task 'nosuch'")]
    [InlineData("""{"task": "ner", "prediction": "x", "answer": "y"}""", "need \"text\"")]
    [InlineData("""{"task": "finqa", "answer": "y"}""", "missing field \"prediction\"")]
    public void Bad_prediction_lines_name_file_line_and_field(string line, string expected)
    {
        var path = Path.Combine(Fixtures.TempDir(), "p.jsonl");
        File.WriteAllLines(path, [line]);
        var e = Assert.Throws<FinQLoraException>(() => PredictionsFile.Read(path));
        Assert.Contains($"{path}:1", e.Message);
        Assert.Contains(expected, e.Message);
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
