using System.Text.Json;
using FinQLora.Data;
using FinQLora.Data.Originals;
using FinQLora.Tasks;

namespace FinQLora.Tests.Data;

public class OriginalsTests
{
    private const string Shared = "/work/shared/data";

    [Fact]
    public void An_fpb_file_too_large_to_be_one_is_refused_before_it_is_read()
    {
        var path = Path.Combine(Fixtures.TempDir(), "Sentences_AllAgree.txt");
        using (var f = File.Create(path)) f.SetLength(FpbSentences.MaxBytes + 1);   // sparse
        var e = Assert.ThrowsAny<FinQLoraException>(() => FpbSentences.Read(path));
        Assert.Contains($"{FpbSentences.MaxBytes + 1:N0} bytes is over the {FpbSentences.MaxBytes:N0}-byte limit", e.Message);
    }

    [Fact]
    public void Splits_are_a_hash_of_the_text()
    {
        // expected buckets worked out with Python's hashlib: sha256(key)[:4] big-endian mod 100
        Assert.Equal("test", DeterministicSplit.Of("hello"));                 // bucket 14
        Assert.Equal("train", DeterministicSplit.Of("gold edges lower"));     // bucket 93
        Assert.Equal("2cf24dba5fb0", DeterministicSplit.Id("hello"));
        Assert.Equal("valid", DeterministicSplit.Of("hello", testPercent: 0, validPercent: 20));
    }

    [Fact]
    public void Fpb_sentences_become_flare_rows_and_bad_lines_name_the_line()
    {
        var path = Path.Combine(Fixtures.TempDir(), "Sentences_50Agree.txt");
        File.WriteAllText(path, "The company said profit rose .@positive\nhello@neutral\nno label here\n");
        var e = Assert.ThrowsAny<FinQLoraException>(() => FpbSentences.Read(path));
        Assert.Contains($"{path}:3:", e.Message);
        var (rows, report) = FpbSentences.Read(path, skipBadRows: true);
        Assert.Equal(1, report.Skipped);
        Assert.Equal(2, rows.Count);
        var r = rows[0];
        Assert.Equal("Analyze the sentiment of this statement extracted from a financial news article. Provide your answer as either negative, positive, or neutral.\nText: The company said profit rose .\nAnswer:", r.Query);
        Assert.Equal("positive", r.Answer);
        Assert.Equal(0, r.Gold);   // fpb choices: positive, neutral, negative
        Assert.Equal("test", r.Split);
        Assert.Equal(1, rows[1].Gold);
    }

    [Fact]
    public void Ner_conll_io_tags_become_bio_labels_and_entity_lines()
    {
        var path = Path.Combine(Fixtures.TempDir(), "FIN3.txt");
        File.WriteAllText(path, """
            -DOCSTART- -X- O O

            Evergreen NNP - I-ORG
            Solar NNP - I-ORG
            and CC - O
            John NNP - I-PER
            Smith NNP - I-PER
            of IN - O
            Boston NNP - I-LOC
            Act NNP - I-MISC

            Nothing NN - O
            here RB - O

            """.Replace("\r", ""));
        var (rows, _) = FinNerConll.Read(path, isTest: true);
        var row = Assert.Single(rows);   // the sentence without entities is left out
        Assert.Equal("Evergreen Solar and John Smith of Boston Act", row.Text);
        Assert.Equal(["B-ORG", "I-ORG", "O", "B-PER", "I-PER", "O", "B-LOC", "O"], row.Label);
        Assert.Equal("Evergreen Solar, ORG\nJohn Smith, PER\nBoston, LOC", row.Answer);
        Assert.Equal("test", row.Split);
        Assert.EndsWith("\nText: Evergreen Solar and John Smith of Boston Act\nAnswer:", row.Query);
        File.AppendAllText(path, "broken\n");
        Assert.Contains($"{path}:14:", Assert.ThrowsAny<FinQLoraException>(() => FinNerConll.Read(path, isTest: true)).Message);
    }

    [Theory]
    [InlineData(-0.745, "negative")]
    [InlineData(-0.1, "negative")]
    [InlineData(-0.088, "neutral")]
    [InlineData(0.093, "neutral")]
    [InlineData(0.1, "positive")]
    public void Fiqa_scores_map_to_labels_at_plus_minus_0_1(double score, string label) => Assert.Equal(label, FiqaPosts.Label(score));

    [Fact]
    public void Fiqa_posts_become_flare_rows()
    {
        var path = Path.Combine(Fixtures.TempDir(), "task1_post_ABSA_train.json");
        File.WriteAllText(path, """{"7": {"sentence": "$TRX Long setup.", "info": [{"sentiment_score": "0.438"}]}, "8": {"sentence": "meh", "info": [{"sentiment_score": "-0.5"}, {"sentiment_score": "0.1"}]}}""");
        var (rows, _) = FiqaPosts.Read(path);
        Assert.Equal("What is the sentiment of the following financial post: Positive, Negative, or Neutral?\nText: $TRX Long setup.\nAnswer:", rows[0].Query);
        Assert.Equal("positive", rows[0].Answer);
        Assert.Equal(0, rows[0].Gold);
        Assert.Equal("negative", rows[1].Answer);   // the mean of the aspects, −0.2
    }

    [Fact]
    public void Gold_headlines_give_nine_rows_per_headline()
    {
        var path = Path.Combine(Fixtures.TempDir(), "gold-headlines.csv");
        File.WriteAllText(path, "Dates\tURL\tNews\tPrice Direction Up\tPrice Direction Constant\tPrice Direction Down\tAsset Comparision\tPast Information\tFuture Information\tPrice Sentiment\n"
            + "1/1/2017\thttp://x\t\"Gold Edges\n lower\"\t0\t0\t1\t0\t1\t0\tnegative\n"
            + "2/1/2017\thttp://y\tgold demand may rise\t0\t0\t0\t0\t0\t1\tnone\n");
        var (rows, _) = GoldHeadlines.Read(path);
        Assert.Equal(18, rows.Count);
        var first = rows.Take(9).ToDictionary(r => r.LabelType!, r => r.Answer);
        Assert.Equal("gold edges lower", rows[0].Text);
        Assert.Equal("Yes", first["Price or Not"]);
        Assert.Equal("Yes", first["Direction Down"]);
        Assert.Equal("No", first["Direction Up"]);
        Assert.Equal("Yes", first["PastPrice"]);
        Assert.Equal("No", first["PastNews"]);
        Assert.Equal("No", first["FuturePrice"]);
        var second = rows.Skip(9).ToDictionary(r => r.LabelType!, r => r.Answer);
        Assert.Equal("No", second["Price or Not"]);
        Assert.Equal("Yes", second["FutureNews"]);
        Assert.Equal("No", second["FuturePrice"]);
        Assert.Equal("train", rows[0].Split);   // "gold edges lower": bucket 93
        Assert.Equal("Look for indications that the price of gold is decreasing.. Does the news headline indicate a Direction Down in the context of gold commodities? Your answer should be Yes or No.\nText: gold edges lower\nAnswer:", rows[3].Query);
        Assert.All(rows, r => Assert.Equal(r.Answer == "Yes" ? 0 : 1, r.Gold));
    }

    [Fact]
    public void Stock_features_match_the_formulas_by_hand()
    {
        // 31 days of adj close 100, then day 31 at 101: move +1%, inc-5 = (4·100+101)/5/101 − 1
        var raw = Enumerable.Range(0, 32).Select(i => ($"2015-01-{i + 1:00}", 99.0, 102.0, 98.0, i == 31 ? 101.0 : 100.0, i == 31 ? 101.0 : 100.0)).ToList();
        var days = StockMovement.FromRaw(raw);
        Assert.Equal(2, days.Count);   // features need 30 days of history
        var f = days[1].Features;
        Assert.Equal((99.0 / 101 - 1) * 100, f[0], 9);
        Assert.Equal((102.0 / 101 - 1) * 100, f[1], 9);
        Assert.Equal(1.0, f[3], 9);
        Assert.Equal(1.0, f[4], 9);
        Assert.Equal(((4 * 100.0 + 101) / 5 / 101 - 1) * 100, f[5], 9);
        Assert.Equal(((29 * 100.0 + 101) / 30 / 101 - 1) * 100, f[10], 9);
    }

    [Fact]
    public void Stock_rows_take_ten_days_dated_tweets_and_the_thresholds()
    {
        double[] moves = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.56, 0.55, -0.5, -0.51];
        var days = moves.Select((m, i) => new StockMovement.PriceDay($"2020-01-{i + 1:00}", [-0.04, 1.26, 0, 0, m, 0, 0, 0, 0, 0, 0])).ToList();
        var tweets = new Dictionary<string, List<string>>
        {
            ["2019-12-31"] = ["too early"],
            ["2020-01-02"] = ["a", "b"],
            ["2020-01-05"] = [new string('x', 250)],
            ["2020-01-11"] = ["target day: not shown"],
        };
        var rows = StockMovement.Rows("cikm18", "BA", days, tweets).ToList();
        Assert.Equal(["2020-01-11", "2020-01-14"], rows.Select(r => r.Date));   // +0.55 and −0.5 are left out
        var (_, rise) = rows[0];
        Assert.Equal("Rise", rise.Answer);
        Assert.Equal(0, rise.Gold);
        Assert.Equal("Fall", rows[1].Row.Answer);
        var context = StockMovement.Header + "\n" + string.Join("\n", Enumerable.Range(1, 10).Select(d => $"2020-01-{d:00},-0.0,1.3,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0"))
            + "\n\n2020-01-02: a|b\n2020-01-05: " + new string('x', 200) + "\n";
        Assert.Equal(context, rise.Text);
        Assert.Equal("Analyze the information and social media posts to determine if the closing price of $ba will ascend or descend at 2020-01-11. Please respond with either Rise or Fall.\nContext: " + context + "\nAnswer:", rise.Query);
    }

    [Fact]
    public void Originals_reproduce_flare_rows_from_the_shared_data()
    {
        if (!Directory.Exists(Path.Combine(Shared, "originals"))) return;   // only on machines with FinQLora's shared data
        // NER: every FLARE test row (a sample, not in this repository) equals the row built from FIN3
        var flareNer = File.ReadLines(Path.Combine(Shared, "flare", "ner-test-sample.jsonl")).Select(l => FlareJsonl.Parse(l, FlareTasks.Get("ner"), "test", "x")).ToList();
        var (ours, _) = FinNerConll.Read(Path.Combine(Shared, "originals", "fin-ner-conll", "FIN3.txt"), isTest: true);
        Assert.Equal(98, ours.Count);   // FLARE's NER test set has 98 rows
        var byText = ours.ToDictionary(r => r.Text!);
        foreach (var f in flareNer)
        {
            Assert.Equal(f.Query, byText[f.Text!].Query);
            Assert.Equal(f.Answer, byText[f.Text!].Answer);
            Assert.Equal(f.Label, byText[f.Text!].Label);
        }
        // BigData22: FLARE's test rows equal ours in context and answer; the split sizes are FLARE's
        var big = StockMovement.FromArchive(StockArchive.Open(Path.Combine(Shared, "originals", "bigdata22-glt.tar.xz")), "bigdata22");
        Assert.Equal([4897, 798, 1472], new[] { "train", "valid", "test" }.Select(s => big.Count(r => r.Split == s)));
        var byId = big.ToDictionary(r => r.Id);
        foreach (var line in File.ReadLines(Path.Combine(Shared, "flare", "bigdata22-test-sample.jsonl")))
        {
            var f = JsonDocument.Parse(line).RootElement;
            var q = f.GetProperty("query").GetString()!;
            var m = System.Text.RegularExpressions.Regex.Match(q, @"\$(\S+) .*?(\d{4}-\d\d-\d\d)");
            var (ticker, date) = (m.Groups[1].Value, m.Groups[2].Value);
            var row = byId[$"bigdata22-{ticker}-{date}"];
            Assert.Equal(f.GetProperty("text").GetString()!.Trim(), row.Text!.Trim());
            Assert.Equal(f.GetProperty("answer").GetString(), row.Answer);
            Assert.Equal("test", row.Split);
        }
    }
}
