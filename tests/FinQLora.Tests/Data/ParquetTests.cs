using FinQLora.Data;
using FinQLora.Tasks;
using Parquet.Serialization;

namespace FinQLora.Tests.Data;

public class ParquetTests
{
#pragma warning disable IDE1006 // column names as the Hub's
    private sealed class ListRow { public string id { get; set; } = ""; public string query { get; set; } = ""; public string answer { get; set; } = ""; public string text { get; set; } = ""; public List<string> choices { get; set; } = []; public long gold { get; set; } }
    private sealed class StringRow { public string id { get; set; } = ""; public string query { get; set; } = ""; public string answer { get; set; } = ""; public string text { get; set; } = ""; public string choices { get; set; } = ""; public long gold { get; set; } }
#pragma warning restore IDE1006

    /// <summary>A Parquet file in the Hub's FLARE FPB layout (choices a list column or a Python-list string, gold int64), written by Parquet.Net.</summary>
    internal static byte[] FpbParquet(int rows, bool badGold = false, bool choicesAsString = false)
    {
        string[] labels = ["positive", "neutral", "negative"];
        long Gold(int i) => badGold && i == rows - 1 ? 7L : i % 3;
        using var ms = new MemoryStream();
        if (choicesAsString)
            ParquetSerializer.SerializeAsync(Enumerable.Range(0, rows).Select(i => new StringRow { id = $"fpb{i}", query = $"Analyze ... Text: sentence {i}\nAnswer:", answer = labels[i % 3], text = $"sentence {i}", choices = "['positive', 'neutral', 'negative']", gold = Gold(i) }), ms).GetAwaiter().GetResult();
        else
            ParquetSerializer.SerializeAsync(Enumerable.Range(0, rows).Select(i => new ListRow { id = $"fpb{i}", query = $"Analyze ... Text: sentence {i}\nAnswer:", answer = labels[i % 3], text = $"sentence {i}", choices = [.. labels], gold = Gold(i) }), ms).GetAwaiter().GetResult();
        return ms.ToArray();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parquet_rows_read_as_flare_rows(bool choicesAsString)
    {
        var path = Path.Combine(Fixtures.TempDir(), "test.parquet");
        File.WriteAllBytes(path, FpbParquet(4, choicesAsString: choicesAsString));
        var (rows, report) = FlareParquet.Read(path, FlareTasks.Get("fpb"), "test");
        Assert.Equal(4, rows.Count);
        Assert.Equal(0, report.Skipped);
        Assert.Equal("fpb3", rows[3].Id);
        Assert.Equal(["positive", "neutral", "negative"], rows[3].Choices);
        Assert.Equal(0, rows[3].Gold);
        Assert.Equal("positive", rows[3].Answer);
        Assert.Equal("sentence 1", rows[1].Text);
    }

    [Fact]
    public void A_bad_parquet_row_names_file_and_row_unless_skipped()
    {
        var path = Path.Combine(Fixtures.TempDir(), "test.parquet");
        File.WriteAllBytes(path, FpbParquet(3, badGold: true));
        var e = Assert.ThrowsAny<FinQLoraException>(() => FlareParquet.Read(path, FlareTasks.Get("fpb"), "test"));
        Assert.Contains($"{path}:3:", e.Message);
        Assert.Contains("outside the 3 choices", e.Message);
        var (rows, report) = FlareParquet.Read(path, FlareTasks.Get("fpb"), "test", skipBadRows: true);
        Assert.Equal(2, rows.Count);
        Assert.Equal(1, report.Skipped);
    }

    [Fact]
    public void A_file_that_is_not_parquet_is_an_error()
    {
        var path = Path.Combine(Fixtures.TempDir(), "test.parquet");
        File.WriteAllText(path, "not parquet");
        Assert.Contains("not a readable Parquet file", Assert.ThrowsAny<FinQLoraException>(() => FlareParquet.Read(path, FlareTasks.Get("fpb"), "test")).Message);
    }

    [Fact]
    public void Prepare_finds_parquet_in_the_hub_layout_under_a_task_folder()
    {
        var src = Fixtures.TempDir();
        Directory.CreateDirectory(Path.Combine(src, "flare-fpb", "data"));
        File.WriteAllBytes(Path.Combine(src, "flare-fpb", "data", "test-00000-of-00001.parquet"), FpbParquet(6));
        File.WriteAllBytes(Path.Combine(src, "flare-fpb", "data", "validation-00000-of-00001.parquet"), FpbParquet(2));
        var output = Fixtures.TempDir();
        var result = DatasetPreparer.PrepareLocal(src, output, [FlareTasks.Get("fpb")], skipBadRows: false);
        Assert.Equal(6, result[0].Splits["test"].Rows);
        Assert.Equal(2, result[0].Splits["valid"].Rows);
        Assert.Equal(6, File.ReadAllLines(Path.Combine(output, "fpb", "test.jsonl")).Length);
    }
}

public class FlareJsonArrayTests
{
    [Fact]
    public void A_json_file_with_an_array_of_rows_reads_like_jsonl()
    {
        var path = Path.Combine(Fixtures.TempDir(), "fpb-test.json");
        File.WriteAllText(path, """[{"id": "a", "query": "q", "answer": "neutral"}, {"id": "b", "query": "q", "answer": "positive", "gold": 9}]""");
        var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test"));
        Assert.Contains($"{path}:#2:", e.Message);
        var (rows, report) = FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test", skipBadRows: true);
        Assert.Equal(1, rows[0].Gold);
        Assert.Equal(1, report.Skipped);
    }
}
