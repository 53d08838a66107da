using FinQLora.Data;
using FinQLora.Reports.Figures;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Tests.Data;

public class DataStatsTests
{
    [Fact]
    public void Percentiles_use_the_nearest_rank()
    {
        int[] ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        Assert.Equal(5, DataStats.Percentile(ten, 50));    // ceil(0.5·10) = 5th value
        Assert.Equal(10, DataStats.Percentile(ten, 95));   // ceil(9.5) = 10th
        Assert.Equal(7, DataStats.Percentile([7], 95));
        Assert.Equal(0, DataStats.Percentile([], 50));
        var s = DataStats.Summarize("fpb", "test", [30, 10, 20, 40], maxLength: 25);
        Assert.Equal((4, 20, 40, 40, 2), (s.Rows, s.P50, s.P95, s.Max, s.Truncated));
    }

    [Fact]
    public void Stats_of_a_prepared_folder_count_rows_and_token_lengths()
    {
        var tokenizer = LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel);
        var dir = Fixtures.TempDir();
        var rows = new[] { ("a", "positive"), ("a longer query with more words in it", "negative") }
            .Select((x, i) => new FlareRow { Id = $"r{i}", Task = "fpb", Split = "test", Query = x.Item1, Answer = x.Item2, Choices = ["positive", "neutral", "negative"], Gold = x.Item2 == "positive" ? 0 : 2 }).ToList();
        FlareJsonl.Write(Path.Combine(dir, "fpb", "test.jsonl"), rows);
        var encoder = new PromptEncoder(tokenizer, 100_000);
        int[] expected = [.. rows.Select(r => encoder.Encode(r)!.InputIds.Length)];
        var stats = DataStats.Compute(dir, tokenizer, maxLength: expected.Min());
        var s = Assert.Single(stats);
        Assert.Equal(("fpb", "test", 2), (s.Task, s.Split, s.Rows));
        Assert.Equal(expected.Max(), s.Max);
        Assert.Equal(expected.Min(), s.P50);
        Assert.Equal(1, s.Truncated);
        Assert.Throws<FinQLoraException>(() => DataStats.Compute(Fixtures.TempDir(), tokenizer, 10));
    }

    [Fact]
    public void The_length_histogram_is_a_300_dpi_png()
    {
        var path = Path.Combine(Fixtures.TempDir(), "h.png");
        LengthHistogram.Save(path, [new("fpb", [10, 20, 20, 35]), new("ner", [100, 150])], maxLength: 128);
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        int width = (bytes[16] << 24) | (bytes[17] << 16) | (bytes[18] << 8) | bytes[19];
        int height = (bytes[20] << 24) | (bytes[21] << 16) | (bytes[22] << 8) | bytes[23];
        Assert.Equal((2700, 1200), (width, height));   // 9 × 4 in at 300 DPI (the legend beside the plot)
    }
}
