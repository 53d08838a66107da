using FinQLora.Data;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Tests.Data;

public class FlareDataTests
{
    private static string Samples(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "samples", .. parts]);

    [Fact]
    public void Flare_rows_read_with_python_list_strings_and_gold_checks()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "fpb.jsonl");
        File.WriteAllLines(path, [
            """{"id": "a", "query": "q1", "answer": "neutral", "text": "t", "choices": "['positive', 'neutral', 'negative']", "gold": 1}""",
            """{"id": "b", "query": "q2", "answer": "negative", "choices": ["positive", "neutral", "negative"], "gold": 2}""",
        ]);
        var (rows, report) = FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test");
        Assert.Equal(2, rows.Count);
        Assert.Equal(new[] { "positive", "neutral", "negative" }, rows[0].Choices);
        Assert.Equal(1, rows[0].Gold);
        Assert.Equal(0, report.Skipped);
    }

    [Theory]
    [InlineData("""{"id": "x", "answer": "neutral"}""", "missing required field \"query\"")]
    [InlineData("""{"id": "x", "query": 5, "answer": "neutral"}""", "\"query\" must be a string")]
    [InlineData("""{"id": "x", "query": "q", "answer": "  "}""", "\"answer\" is empty")]
    [InlineData("""{"id": "x", "query": "q", "answer": "neutral", "choices": ["a", "b"], "gold": 5}""", "outside the 2 choices")]
    [InlineData("""not json""", "invalid JSON")]
    public void Bad_rows_name_file_and_line_unless_skipped(string badLine, string expected)
    {
        var path = Path.Combine(Fixtures.TempDir(), "rows.jsonl");
        File.WriteAllLines(path, ["""{"id": "ok", "query": "q", "answer": "positive"}""", badLine]);
        var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test"));
        Assert.Contains($"{path}:2:", e.Message);
        Assert.Contains(expected, e.Message);
        var (rows, report) = FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test", skipBadRows: true);
        Assert.Single(rows);
        Assert.Equal(1, report.Skipped);
    }

    [Fact]
    public void Invalid_utf8_is_an_error_naming_the_line()
    {
        var path = Path.Combine(Fixtures.TempDir(), "rows.jsonl");
        File.WriteAllBytes(path, [.. "{\"query\": \"q\", \"answer\": \"positive\"}\n"u8.ToArray(), .. "{\"query\": \"\xff\"}\n"u8.ToArray()[..12], 0xff, 0xfe, (byte)'\n']);
        var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test"));
        Assert.Contains("invalid UTF-8", e.Message);
    }

    [Fact]
    public void Pixiu_conversations_become_flare_rows_with_gold_and_ner_text()
    {
        var (fpb, _) = PixiuJsonl.Read(Samples("fpb", "train.jsonl"), FlareTasks.Get("fpb"), "train");
        Assert.Equal(40, fpb.Count);
        Assert.All(fpb, r => Assert.Equal(r.Answer.Trim().ToLowerInvariant(), r.Choices![r.Gold!.Value]));
        var (ner, _) = PixiuJsonl.Read(Samples("ner", "train.jsonl"), FlareTasks.Get("ner"), "train");
        Assert.All(ner, r => Assert.False(string.IsNullOrEmpty(r.Text)));
    }

    [Fact]
    public void Prepare_data_over_the_samples_reports_tasks_without_data()
    {
        var output = Fixtures.TempDir();
        var result = DatasetPreparer.PrepareLocal(Samples(), output, FlareTasks.All, skipBadRows: false);
        Assert.Equal(new[] { "convfinqa" }, result.Where(t => t.NoDataReason is not null).Select(t => t.Task).Order());
        Assert.Equal(20, result.Single(t => t.Task == "ner").Splits["test"].Rows);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "manifest.json")))!;
        Assert.Equal("no data", manifest["tasks"]!["convfinqa"]!["status"]!.GetValue<string>());
        Assert.Equal(DatasetPreparer.Sha256(Path.Combine(output, "finqa", "train.jsonl")), manifest["tasks"]!["finqa"]!["splits"]!["train"]!["sha256"]!.GetValue<string>());
        var reread = DatasetPreparer.ReadPrepared(output, FlareTasks.Get("finqa"), "test")!;
        Assert.Equal(20, reread.Count);
    }

    [Fact]
    public void Prompts_mask_everything_but_the_answer_and_end_of_turn()
    {
        var tok = LlamaTokenizer.Llama3();
        var enc = new PromptEncoder(tok, maxLength: 4096);
        var row = new FlareRow { Id = "1", Task = "fpb", Query = "Analyze the sentiment.\nText: profit fell\nAnswer:", Answer = "negative" };
        var ex = enc.Encode(row)!;
        var answer = tok.Encode("negative", addBos: false);
        var labelled = ex.Labels.Where(l => l != -100).ToArray();
        Assert.Equal([.. answer, tok.EotId], labelled);
        Assert.Equal(ex.InputIds.Length, ex.Labels.Length);
        Assert.Equal(tok.Encode(ChatFormat.Render([new ChatMessage("user", row.Query)], true), addBos: false), ex.InputIds[..^labelled.Length]);
        Assert.Equal(ex.InputIds[..^labelled.Length], enc.EncodePrompt(row.Query));
    }

    [Fact]
    public void Truncation_keeps_the_answer_and_the_end_of_the_query_or_drops_the_row()
    {
        var tok = LlamaTokenizer.Llama3();
        var longQuery = "Instruction first.\nContext: " + string.Join(" ", Enumerable.Range(0, 600).Select(i => $"w{i}")) + "\nQuestion: what?\nAnswer:";
        var row = new FlareRow { Id = "1", Task = "finqa", Query = longQuery, Answer = "2.5" };
        var ex = new PromptEncoder(tok, maxLength: 200).Encode(row)!;
        Assert.True(ex.Truncated);
        Assert.Equal(200, ex.InputIds.Length);
        var text = tok.Decode(ex.InputIds);
        Assert.Contains("Instruction first.", text);
        Assert.Contains("[...]", text);
        Assert.Contains("Question: what?\nAnswer:", text);
        Assert.EndsWith("2.5<|eot_id|>", text);
        Assert.Null(new PromptEncoder(tok, maxLength: 200, TruncationMode.Drop).Encode(row));
    }

    [Fact]
    public void Batches_are_deterministic_padded_and_cover_every_example_once()
    {
        var examples = Enumerable.Range(0, 23).Select(i => new TokenizedExample("t", $"e{i}", Enumerable.Range(0, 3 + i % 7).ToArray(),
            Enumerable.Range(0, 3 + i % 7).Select(j => j < 2 ? -100 : j).ToArray(), false)).ToList();
        var a = Batcher.Batches(examples, 4, padId: 99, seed: 7);
        var b = Batcher.Batches(examples, 4, padId: 99, seed: 7);
        Assert.Equal(a.SelectMany(x => x.Ids), b.SelectMany(x => x.Ids));
        Assert.NotEqual(a.SelectMany(x => x.Ids), Batcher.Batches(examples, 4, 99, seed: 8).SelectMany(x => x.Ids));
        Assert.Equal(examples.Select(e => e.Id).Order(), a.SelectMany(x => x.Ids).Order());
        var first = a[0];
        Assert.Equal(first.Rows * first.Length, first.InputIds.Length);
        Assert.All(Enumerable.Range(0, first.InputIds.Length).Where(i => first.InputIds[i] == 99), i => Assert.Equal(-100, first.Labels[i]));
    }

    [Fact]
    public void Packing_restarts_positions_and_separates_segments()
    {
        var examples = new[] { 5, 4, 3, 2 }.Select((n, i) => new TokenizedExample("t", $"e{i}", Enumerable.Repeat(1, n).ToArray(), Enumerable.Repeat(-100, n).ToArray(), false)).ToList();
        var batches = Batcher.Batches(examples, 8, padId: 0, seed: 1, packing: true, maxLength: 7);
        var rows = batches.Single();
        Assert.Equal(2, rows.Rows);   // 5+2 and 4+3
        Assert.Equal(7, rows.Length);
        Assert.Equal(new long[] { 0, 1, 2, 3, 4, 0, 1 }, rows.Positions[..7].Length == 7 && rows.Segments![0] == 0 && rows.Positions[0] == 0 ? rows.Positions[..7] : rows.Positions[7..]);
        Assert.Contains(1L, rows.Segments!);
    }

    [Fact]
    public void Temperature_mixing_upsamples_small_tasks_deterministically()
    {
        var byTask = new Dictionary<string, List<TokenizedExample>>
        {
            ["big"] = Enumerable.Range(0, 90).Select(i => new TokenizedExample("big", $"b{i}", [1], [1], false)).ToList(),
            ["small"] = Enumerable.Range(0, 10).Select(i => new TokenizedExample("small", $"s{i}", [1], [1], false)).ToList(),
        };
        Assert.Equal(100, TaskMixer.Mix(byTask, MixingMode.Proportional, 1, 0).Count);
        var mixed = TaskMixer.Mix(byTask, MixingMode.Temperature, 100, seed: 3);
        Assert.Equal(100, mixed.Count);
        int small = mixed.Count(e => e.Task == "small");
        Assert.InRange(small, 30, 70);   // near uniform at T = 100 (expected ≈ 49)
        Assert.Equal(mixed.Select(e => e.Id), TaskMixer.Mix(byTask, MixingMode.Temperature, 100, seed: 3).Select(e => e.Id));
    }

    [Fact]
    public void Format_detection_reads_no_more_than_the_line_cap_of_a_file_without_newlines()
    {
        // prepare-data looks at the first line to tell PIXIU from FLARE rows; a 64 MB one-line file must not be
        // held whole for that (File.ReadLines would allocate 128 MB and more)
        var source = Fixtures.TempDir();
        var path = Fixtures.OneLongLine(Path.Combine(source, "fpb", "test.jsonl"), 64L << 20, "{\"id\":\"");
        var (e, allocated) = Fixtures.ThrowsAllocating(() => DatasetPreparer.PrepareLocal(source, Fixtures.TempDir(), [FlareTasks.Get("fpb")], skipBadRows: false));
        Assert.Equal($"{path}:1: a line over 16,777,216 characters (not JSON Lines, or corrupt)", e.Message);
        Assert.True(allocated < 96L << 20, $"{allocated:N0} bytes allocated");
    }
}
