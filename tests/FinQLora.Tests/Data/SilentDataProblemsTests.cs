using CsCheck;
using FinQLora.Data;
using FinQLora.Evaluation;
using FinQLora.Tasks;

namespace FinQLora.Tests.Data;

/// <summary>
/// Data that would be scored or trained on wrongly without a word is refused, naming file and line: an answer
/// that is not the gold choice, empty or repeated choices, a multi-turn placeholder naming no earlier turn,
/// a source file giving no rows (empty, all bad, a damaged Parquet footer), a prediction line for an example
/// already scored.
/// </summary>
public sealed class SilentDataProblemsTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();
    private int _n;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, params string[] lines)
    {
        var path = Path.Combine(_dir, $"{Interlocked.Increment(ref _n)}", name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllLines(path, lines);
        return path;
    }

    [Fact]
    public void Rows_whose_choices_or_answer_disagree_are_refused_naming_the_line()
    {
        string[] labels = ["positive", "neutral", "negative"];
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[1, 2], Gen.Int[0, 3]).Sample((gold, other, dup, kind) =>
        {
            var choices = labels.ToList();
            string answer = labels[gold];
            string expected;
            switch (kind)
            {
                case 0: answer = labels[(gold + dup) % 3]; expected = "is not the gold choice"; break;      // answer != choices[gold]
                case 1: choices[other] = ""; if (other == gold) answer = labels[(gold + 1) % 3]; expected = other == gold ? "is empty" : $"choices[{other}] is empty"; break;
                case 2: choices[(other + dup) % 3] = choices[other].ToUpperInvariant(); expected = "repeats"; break;
                default: choices[other] = "  "; expected = "is empty"; break;
            }
            var json = System.Text.Json.JsonSerializer.Serialize(new { id = "x", query = "q", answer, choices, gold });
            var path = Write("rows.jsonl", """{"id": "ok", "query": "q", "answer": "neutral", "choices": ["positive", "neutral", "negative"], "gold": 1}""", json);
            var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test"));
            Assert.StartsWith($"{path}:2:", e.Message);
            if (!(kind == 1 && other == gold)) Assert.Contains(expected, e.Message);
        }, iter: 40, threads: 1);
    }

    [Fact]
    public void A_placeholder_naming_no_earlier_turn_is_refused_when_the_row_is_read()
    {
        foreach (var k in new[] { "99999999999999999999", "3", "7" })
        {
            var path = Write("convfinqa-test.jsonl", $$"""{"id": "d-2", "query": "then {answer{{k}}} plus 1", "answer": "2", "turn": 2, "dialogue_id": "d"}""");
            var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("convfinqa"), "test"));
            Assert.Contains("names no earlier turn", e.Message);
        }
        Assert.Equal("x 5", Evaluator.FillPlaceholders("x {answer0}", ["5"]));
        Assert.Equal("x {answer99999999999999999999}", Evaluator.FillPlaceholders("x {answer99999999999999999999}", ["5"]));
    }

    [Fact]
    public void A_source_file_that_gives_no_rows_is_refused_not_an_ok_split()
    {
        var samples = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "samples", "fpb", "test.jsonl")).Take(3).ToArray();
        var parquet = ParquetTests.FpbParquet(4);
        parquet[^5] ^= 0x40;   // one byte of the footer length
        var cases = new (string Name, byte[] Bytes, bool Skip)[]
        {
            ("fpb/test.jsonl", [], false),
            ("fpb/test.jsonl", "\n  \n"u8.ToArray(), false),
            ("fpb/test.jsonl", "not json\n{}\n"u8.ToArray(), true),
            ("flare-fpb/data/test-00000-of-00001.parquet", parquet, false),
        };
        foreach (var (name, bytes, skip) in cases)
        {
            var source = Path.Combine(_dir, $"s{Interlocked.Increment(ref _n)}");
            Directory.CreateDirectory(Path.Combine(source, "fpb"));
            File.WriteAllLines(Path.Combine(source, "fpb", "train.jsonl"), samples);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(source, name))!);
            File.WriteAllBytes(Path.Combine(source, name), bytes);
            var output = Path.Combine(_dir, $"o{_n}");
            var e = Assert.ThrowsAny<FinQLoraException>(() => DatasetPreparer.PrepareLocal(source, output, [FlareTasks.Get("fpb")], skip));
            Assert.Contains(Path.GetFileName(name), e.Message);
            Assert.False(File.Exists(Path.Combine(output, "manifest.json")));
        }
    }

    [Fact]
    public void A_prediction_line_for_an_example_already_scored_is_refused()
    {
        var line = """{"task": "fpb", "id": "fpb-1", "prediction": "neutral", "answer": "neutral", "choices": ["positive", "neutral", "negative"], "gold": 1}""";
        var other = line.Replace("fpb-1", "fpb-2");
        var path = Write("predictions.jsonl", line, other, line);
        var e = Assert.Throws<FinQLoraException>(() => PredictionsFile.Read(path));
        Assert.Contains($"{path}:3", e.Message);
        Assert.Contains("appears twice", e.Message);
        Assert.Equal(2, PredictionsFile.Read(Write("p.jsonl", line, other)).Count);
    }
}
