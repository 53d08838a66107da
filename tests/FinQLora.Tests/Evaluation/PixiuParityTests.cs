using FinQLora.Data;
using FinQLora.Evaluation;
using FinQLora.Tasks;

namespace FinQLora.Tests.Evaluation;

/// <summary>Cases where PIXIU's flare.py / utils.py behave in a particular way; expected values worked out by hand.</summary>
public class PixiuParityTests
{
    [Fact]
    public void Mcc_puts_every_prediction_outside_the_gold_set_into_one_class()
    {
        // PIXIU maps predictions not among the gold labels to -1 before matthews_corrcoef.
        // gold a a b b, pred a c b missing → classes a, b, other: t = 2 2 0, p = 1 1 2, c = 2, s = 4
        // (c·s − Σt·p) / sqrt((s² − Σp²)(s² − Σt²)) = (8 − 4) / sqrt((16 − 6)(16 − 8)) = 4 / sqrt(80)
        // (keeping c and missing apart would give Σp² = 4 and 4 / sqrt(96) instead)
        Assert.Equal(4 / Math.Sqrt(80), ClassificationMetrics.Mcc(["a", "a", "b", "b"], ["a", "c", "b", "missing"]), 9);
    }

    [Fact]
    public void F1_ignores_predicted_labels_outside_the_gold_set()
    {
        // labels = set(golds) = {a, b}; gold a a b b, pred a c b b
        // a: TP 1 FP 0 FN 1 → P 1, R .5, F1 2/3; b: TP 2 FP 0 FN 0 → F1 1; c is in no label's counts
        Assert.Equal((2.0 / 3 * 2 + 1 * 2) / 4, ClassificationMetrics.WeightedF1(["a", "a", "b", "b"], ["a", "c", "b", "b"]), 9);
        Assert.Equal((2.0 / 3 + 1) / 2, ClassificationMetrics.MacroF1(["a", "a", "b", "b"], ["a", "c", "b", "b"]), 9);
    }

    [Theory]
    [InlineData("yes or no", "Rise", "Fall", "Rise")]
    [InlineData("yes or no", "Fall", "Rise", "Fall")]   // PIXIU walks the row's choices in list order
    [InlineData("  FALL  ", "Rise", "Fall", "Fall")]
    [InlineData("unclear", "Fall", "Rise", "Fall")]     // default fall
    public void Stock_movement_walks_the_choices_in_order(string output, string first, string second, string expected) =>
        Assert.Equal(expected, FlareParsers.StockMovement(output, [first, second]));

    [Fact]
    public void Qa_strips_the_output_but_not_the_answer()
    {
        Assert.True(FlareScorer.ExactMatch(" 5.2\n", "5.2"));
        Assert.False(FlareScorer.ExactMatch("5.2", "5.2 "));
        Assert.False(FlareScorer.ExactMatch("5.20", "5.2"));
    }

    [Fact]
    public void Ner_matches_entities_as_substrings_of_the_text()
    {
        // words: Megacorp@0 Ltd@9 signed@13 with@20 Inc@25 Partners@29 in@38 Boston@41
        const string text = "Megacorp Ltd signed with Inc Partners in Boston";
        // "corp" is found at 4, inside Megacorp: the first word starting at or after 4 is Ltd (B-), no word starts in 4..7
        // "Inc Partners" covers 25..36: B- on Inc, I- on Partners; the type is taken as written (MISC)
        // "Boston" ends the text: PIXIU drops it, the lenient variant tags it
        Assert.Equal(new[] { "O", "B-ORG", "O", "O", "B-MISC", "I-MISC", "O", "O" },
            NerScoring.Tags("corp, ORG\nInc Partners, MISC\nBoston, LOC\nno type here", text, NerTagging.Pixiu));
        Assert.Equal(new[] { "O", "B-ORG", "O", "O", "B-MISC", "I-MISC", "O", "B-LOC" },
            NerScoring.Tags("corp, ORG\nInc Partners, MISC\nBoston, LOC\nno type here", text, NerTagging.Lenient));
    }

    [Fact]
    public void Ner_tags_every_occurrence_and_keeps_commas_inside_entities()
    {
        Assert.Equal(new[] { "B-ORG", "O", "B-ORG", "O" }, NerScoring.Tags("Acme, ORG", "Acme sued Acme .", NerTagging.Pixiu));
        // "Smith, Jones" (the last ", " splits off the type) covers 0..11: Smith, @0 and Jones @7
        Assert.Equal(new[] { "B-ORG", "I-ORG", "O", "O" }, NerScoring.Tags("Smith, Jones, ORG", "Smith, Jones and Co", NerTagging.Pixiu));
    }

    [Fact]
    public void Ner_entity_f1_is_micro_over_rows_and_counts_unknown_types()
    {
        // row 1: gold PER(0,2); pred PER(0,2) + MISC(2,3) → 1 right of 2 predicted
        // row 2: gold LOC(0,1); pred nothing → 0 of 1 gold found
        // TP 1, predicted 2, gold 2 → P .5, R .5, F1 .5
        var m = FlareScorer.ScoreTask(FlareTasks.Get("ner"), [
            new Prediction { Task = "ner", Answer = "John Smith, PER", Text = "John Smith signed", Label = ["B-PER", "I-PER", "O"], PredictionText = "John Smith, PER\nsigned, MISC" },
            new Prediction { Task = "ner", Answer = "Paris, LOC", Text = "Paris office", Label = ["B-LOC", "O"], PredictionText = "" },
        ]);
        Assert.Equal(0.5, m["entity_f1_lenient"], 9);
        // PIXIU drops "signed" (the text's last word): TP 1, predicted 1, gold 2 → P 1, R .5, F1 2/3
        Assert.Equal(2.0 / 3, m["entity_f1"], 9);
    }

    public static IEnumerable<object[]> SharedFiles() =>
        new[] { ("ner", "ner"), ("finqa", "finqa"), ("headlines", "headlines"), ("bigdata22", "bigdata22") }
            .Select(x => new object[] { x.Item1, x.Item2 });

    /// <summary>The full shared extracts (150 rows each; 49 for NER), when this machine has them.</summary>
    [Theory]
    [MemberData(nameof(SharedFiles))]
    public void Gold_answers_score_perfectly_on_the_shared_flare_extracts(string task, string file)
    {
        var path = Path.Combine("/work/shared/data/flare", $"{file}-test-sample.jsonl");
        if (!File.Exists(path)) return;   // only on the development machine
        var (rows, _) = FlareJsonl.Read(path, FlareTasks.Get(task), "test");
        Assert.NotEmpty(rows);
        var preds = rows.Select(r => new Prediction { Task = task, PredictionText = r.Answer, Answer = r.Answer, Choices = r.Choices, Gold = r.Gold, Text = r.Text, Label = r.Label, LabelType = r.LabelType }).ToList();
        var m = FlareScorer.Score(preds)[FlareTasks.Get(task).Name];
        Assert.Contains(m, x => x.Key != "missing");
        // NER is the exception, as in PIXIU: the gold answer's lines re-tag every occurrence of their string,
        // so "LLC, ORG" also tags three "LLC" words that are O in the gold labels, and "Bank, ORG" turns the
        // I-ORG of "Union Bank" into B-ORG. PIXIU's own process_text and seqeval's get_entities give TP 167, predicted 172, gold 168 on these 49 rows → F1 = 2·167 / (172 + 168).
        double expected = task == "ner" ? 334.0 / 340 : 1.0;
        foreach (var (name, value) in m.Where(x => x.Key is not ("missing" or "defaulted")))
            Assert.True(Math.Abs(value - expected) < 1e-12, $"{task} {name} = {value}, expected {expected}");
    }
}
