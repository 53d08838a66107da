using System.Text.Json.Nodes;
using FinQLora.Evaluation;
using FinQLora.Tasks;

namespace FinQLora.Tests.Evaluation;

/// <summary>
/// entity_f1 against PIXIU's own process_text + seqeval's f1_score, on varied outputs (tests/fixtures/ner/ner_cases.json,
/// made by make_ner_cases.py beside it): entities at the start, middle and end of the text, repeated entities, wrong
/// types, ";"-joined lines, empty output, irregular whitespace, astral characters. entity_f1_lenient is pinned too.
/// </summary>
public sealed class NerPixiuCasesTests
{
    private static JsonObject Cases => JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "ner", "ner_cases.json")))!.AsObject();

    public static IEnumerable<object[]> CaseNames() => Cases["cases"]!.AsArray().Select(c => new object[] { c!["name"]!.GetValue<string>() });

    private static string[] Strings(JsonNode? n) => n!.AsArray().Select(x => x!.GetValue<string>()).ToArray();

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Entity_f1_and_tags_equal_pixiu_and_seqeval(string name)
    {
        var c = Cases["cases"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!;
        var rows = c["rows"]!.AsArray();
        foreach (var row in rows)
        {
            string text = row!["text"]!.GetValue<string>(), output = row["output"]!.GetValue<string>();
            Assert.Equal(Strings(row["pixiu_tags"]), NerScoring.Tags(output, text, NerTagging.Pixiu));
            Assert.Equal(Strings(row["lenient_tags"]), NerScoring.Tags(output, text, NerTagging.Lenient));
        }
        var m = FlareScorer.ScoreTask(FlareTasks.Get("ner"), rows.Select(r => new Prediction
        {
            Task = "ner", Text = r!["text"]!.GetValue<string>(), Label = Strings(r["label"]),
            PredictionText = r["output"]!.GetValue<string>(), Answer = "",
        }).ToList());
        Assert.Equal(c["entity_f1"]!.GetValue<double>(), m["entity_f1"], 12);
        Assert.Equal(c["entity_f1_lenient"]!.GetValue<double>(), m["entity_f1_lenient"], 12);
    }

    [Fact]
    public void A_label_that_does_not_fit_the_text_is_refused_naming_the_row()
    {
        var e = Assert.Throws<FinQLoraException>(() => FlareScorer.ScoreTask(FlareTasks.Get("ner"), [
            new Prediction { Task = "ner", Text = "Acme hired Bob", Label = ["B-ORG", "O", "B-PER"], PredictionText = "Acme, ORG", Answer = "" },
            new Prediction { Task = "ner", Text = "Acme hired Bob", Label = ["B-ORG", "O"], PredictionText = "Acme, ORG", Answer = "" },
        ]));
        Assert.Contains("NER row 2", e.Message);
        Assert.Contains("\"label\"", e.Message);
    }
}
