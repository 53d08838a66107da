using FinQLora.Evaluation;
using FinQLora.Tasks;

namespace FinQLora.Tests.Evaluation;

public class MetricsTests
{
    // gold = pos pos neu neg neg neg; pred = pos neu neu neg pos missing
    // per gold label (TP, FP, FN): pos (1,1,1) F1 .5, neu (1,1,0) F1 2/3, neg (1,0,2) F1 .5; supports 2, 1, 3
    private static readonly string[] Gold = ["pos", "pos", "neu", "neg", "neg", "neg"];
    private static readonly string[] Pred = ["pos", "neu", "neu", "neg", "pos", "missing"];

    [Fact]
    public void Weighted_and_macro_f1_over_the_gold_labels()
    {
        Assert.Equal((0.5 * 2 + 2.0 / 3 + 0.5 * 3) / 6, ClassificationMetrics.WeightedF1(Gold, Pred), 9);   // 0.527778
        Assert.Equal((0.5 + 2.0 / 3 + 0.5) / 3, ClassificationMetrics.MacroF1(Gold, Pred), 9);             // 0.555556
        Assert.Equal(0.5, ClassificationMetrics.Accuracy(Gold, Pred));
    }

    [Fact]
    public void Multiclass_mcc_as_sklearn()
    {
        // labels pos neu neg missing: t = 2 1 3 0, p = 2 2 1 1, c = 3, s = 6
        // (c·s − Σ t·p) / sqrt((s² − Σp²)(s² − Σt²)) = (18 − 9) / sqrt(26 · 22)
        Assert.Equal(9 / Math.Sqrt(26 * 22), ClassificationMetrics.Mcc(Gold, Pred), 9);
        Assert.Equal(0, ClassificationMetrics.Mcc(["a", "a"], ["a", "a"]));
        Assert.Equal(1, ClassificationMetrics.Mcc(["a", "b"], ["a", "b"]), 9);
    }

    [Theory]
    [InlineData("The sentiment is Negative.", "negative")]
    [InlineData("neutral or positive", "positive")]
    [InlineData("bullish", "missing")]
    public void Sentiment_takes_the_first_choice_in_list_order(string output, string expected) =>
        Assert.Equal(expected, FlareParsers.Sentiment(output, ["positive", "neutral", "negative"]));

    [Theory]
    [InlineData("I think it will rise", "Rise")]
    [InlineData("no", "Fall")]
    [InlineData("positive outlook but may fall", "Rise")]
    [InlineData("", "Fall")]
    [InlineData("Neutral", "Fall")]
    [InlineData("Yes.", "Rise")]
    public void Stock_movement_checks_rise_first_and_defaults_to_fall(string output, string expected) =>
        Assert.Equal(expected, FlareParsers.StockMovement(output, ["Rise", "Fall"]));

    [Theory]
    [InlineData(" Yes \n", "Yes")]
    [InlineData("yes", "No")]
    [InlineData("Yes.", "No")]
    public void Headlines_is_exactly_Yes(string output, string expected) => Assert.Equal(expected, FlareParsers.Headlines(output));

    [Fact]
    public void Headlines_avg_f1_is_the_mean_over_label_types()
    {
        Prediction P(string type, int gold, string output) => new() { Task = "headlines", PredictionText = output, Answer = gold == 0 ? "Yes" : "No", Choices = ["Yes", "No"], Gold = gold, LabelType = type };
        // type A: gold Yes No, pred Yes Yes → Yes F1 2/3 (support 1), No F1 0 (support 1) → 1/3; type B: gold No, pred No → 1
        var m = FlareScorer.ScoreTask(FlareTasks.Get("headlines"), [P("A", 0, "Yes"), P("A", 1, "Yes"), P("B", 1, "No")]);
        Assert.Equal((1.0 / 3 + 1) / 2, m["avg_f1"], 9);
        Assert.Equal(2.0 / 3, m["acc"], 9);
    }

    [Fact]
    public void Ner_lines_become_bio_tags_and_entity_f1()
    {
        const string text = "Apple Inc hired John Smith in Paris";
        Assert.Equal(new[] { "B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "B-LOC" }, NerScoring.Tags("Apple Inc, ORG\nJohn Smith, PER\nParis, LOC", text, NerTagging.Lenient));
        // PIXIU drops the occurrence that ends in the text's last word
        Assert.Equal(new[] { "B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "O" }, NerScoring.Tags("Apple Inc, ORG\nJohn Smith, PER\nParis, LOC", text, NerTagging.Pixiu));
        // predicted spans ORG(0,2) PER(3,4) ORG(6,7) vs gold ORG(0,2) PER(3,5) LOC(6,7): 1 of 3 right each way → F1 1/3
        var m = FlareScorer.ScoreTask(FlareTasks.Get("ner"), [new Prediction
        {
            Task = "ner", Answer = "Apple Inc, ORG\nJohn Smith, PER\nParis, LOC", Text = text,
            PredictionText = "Apple Inc, ORG\nJohn, PER\nLondon, LOC\nParis, ORG\nnot a line",
        }]);
        Assert.Equal(1.0 / 3, m["entity_f1_lenient"], 9);
        // PIXIU's tagging drops ORG(6,7) (it ends in the last word): 1 right of 2 predicted, of 3 gold → F1 0.4
        Assert.Equal(0.4, m["entity_f1"], 9);
    }

    [Fact]
    public void Ner_chunks_follow_conlleval()
    {
        Assert.Equal(2, NerScoring.Entities([["B-ORG", "B-ORG"]]).Count);
        Assert.Equal(new[] { ("PER", 1, 2) }, NerScoring.Entities([["O", "I-PER", "I-PER"]]));
        Assert.Equal(2, NerScoring.Entities([["B-PER", "I-ORG"]]).Count);
        // rows are concatenated with an O between them (seqeval's nested lists); an empty type reads as "_"
        Assert.Equal(new[] { ("PER", 0, 0), ("PER", 2, 2), ("_", 4, 5) }, NerScoring.Entities([["B-PER"], ["I-PER"], ["B-", "I-"]]));
    }

    [Fact]
    public void Qa_exact_match_and_the_labelled_numeric_tolerance()
    {
        Prediction P(string output, string answer) => new() { Task = "finqa", PredictionText = output, Answer = answer };
        var m = FlareScorer.ScoreTask(FlareTasks.Get("finqa"), [P(" 494.0\n", "494.0"), P("494", "494.0"), P("$1,234", "1234.0"), P("12", "13.5")]);
        Assert.Equal(0.25, m["acc"]);
        Assert.Equal(0.75, m["num_acc"]);
    }

    [Fact]
    public void ConvFinQA_placeholders_take_earlier_answers()
    {
        Assert.Equal("q: 5 minus 7 {answer2}", Evaluator.FillPlaceholders("q: {answer0} minus {answer1} {answer2}", ["5", "7"]));
    }
}
