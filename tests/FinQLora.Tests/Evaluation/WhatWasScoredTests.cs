using System.Text.Json.Nodes;
using FinQLora.Evaluation;
using FinQLora.Tasks;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Evaluation;

/// <summary>
/// An evaluation records what it scored (evaluation.json) and how much of each classification score is FLARE's
/// default label (defaulted), so a report can say what the model is and what the numbers stand on.
/// </summary>
public class WhatWasScoredTests
{
    private static Prediction Stock(string output) => new() { Task = "bigdata22", PredictionText = output, Answer = "Fall", Choices = ["Rise", "Fall"], Gold = 1 };

    [Fact]
    public void Defaulted_counts_the_outputs_the_parser_could_not_match_beside_missing()
    {
        // "hmm" and "" match no choice or alias: FLARE scores them as Fall (correct here), and defaulted says so
        var m = FlareScorer.Score([Stock("Rise"), Stock("it will fall"), Stock("hmm"), Stock("")])["bigdata22"];
        Assert.Equal(0.5, m["defaulted"]);
        Assert.Equal(0.0, m["missing"]);
        Assert.Equal(0.75, m["acc"]);
        Prediction Headline(string output) => new() { Task = "headlines", PredictionText = output, Answer = "No", Choices = ["Yes", "No"], Gold = 1, LabelType = "t" };
        Assert.Equal(0.5, FlareScorer.Score([Headline(" Yes "), Headline("No"), Headline("Yes."), Headline("maybe")])["headlines"]["defaulted"]);
        // sentiment has no default: an unmatched output is "missing", and there is no defaulted share
        Prediction Sentiment(string output) => new() { Task = "fpb", PredictionText = output, Answer = "positive", Choices = ["positive", "neutral", "negative"], Gold = 0 };
        var fpb = FlareScorer.Score([Sentiment("positive"), Sentiment("bullish")])["fpb"];
        Assert.Equal(0.5, fpb["missing"]);
        Assert.False(fpb.ContainsKey("defaulted"));
        Assert.True(FlareParsers.IsDefaulted(TaskKind.StockMovement, "no idea", ["Rise", "Fall"]) == false);   // "no" is a fall alias, as in FLARE
    }

    [Fact]
    public void Evaluate_records_the_model_and_rows_and_the_report_names_the_row_by_them_with_the_random_weights_banner()
    {
        var root = Fixtures.TempDir();
        var eval = Path.Combine(root, "eval");
        var r = CliProcess.Run("evaluate", "--model", "tiny", "--data", Path.Combine(AppContext.BaseDirectory, "samples"), "--tasks", "bigdata22", "--limit", "2",
            "--max-new-tokens", "2", "--output", eval);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var info = JsonNode.Parse(File.ReadAllText(Path.Combine(eval, "evaluation.json")))!.AsObject();
        Assert.Equal("tiny", info["model.path"]!.GetValue<string>());
        Assert.Equal("", info["model.adapters"]!.GetValue<string>());
        Assert.Equal("2", info["limit"]!.GetValue<string>());
        Assert.Equal("bigdata22", info["tasks"]!.GetValue<string>());
        Assert.True(EvaluationInfo.Read(eval)!.RandomWeights);
        Assert.True(JsonNode.Parse(File.ReadAllText(Path.Combine(eval, "metrics.json")))!["bigdata22"]!["defaulted"] is not null);

        var report = Path.Combine(root, "report");
        r = CliProcess.Run("report", "--results", eval, "--output", report);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var md = File.ReadAllText(Path.Combine(report, "results.md"));
        Assert.StartsWith("> **RANDOM WEIGHTS: tiny uses a model with random weights", md);
        Assert.Contains("\n| tiny | -- | -- | -- | -- | ", md);
        Assert.Contains("tiny scored 2 test rows per task (limit 2 per task) on bigdata22.", md);

        // re-scoring keeps what the predictions came from
        var rescored = Path.Combine(root, "rescored");
        r = CliProcess.Run("evaluate", "--predictions", Path.Combine(eval, "predictions.jsonl"), "--output", rescored);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var again = EvaluationInfo.Read(rescored)!;
        Assert.True(again.RandomWeights);
        Assert.Equal(Path.Combine(eval, "predictions.jsonl"), again.Get("rescored_from"));
    }
}
