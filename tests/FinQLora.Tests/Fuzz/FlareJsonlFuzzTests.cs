using System.Diagnostics;
using System.Text;
using CsCheck;
using FinQLora.Data;
using FinQLora.Tasks;
using Xunit.Abstractions;

namespace FinQLora.Tests.Fuzz;

/// <summary>FLARE JSON Lines (Data/FlareJsonl.cs): mutated files read (bad rows skipped and counted) or are refused with a FinQLoraException.</summary>
public class FlareJsonlFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] SeedLines =
    [
        """{"id":"fpb0","query":"Analyze the sentiment of this statement.\nText: Sales rose.\nAnswer:","answer":"positive","text":"Sales rose.","choices":["negative","neutral","positive"],"gold":2}""",
        """{"id":"fpb1","query":"Q","answer":"neutral","text":"t","choices":"['negative', 'neutral', 'positive']","gold":1,"label":["x"]}""",
        """{"id":"h1","query":"Q","answer":"Yes","text":"t","label_type":"price up","choices":["No","Yes"],"gold":1.0,"turn":1,"dialogue_id":"d"}""",
    ];

    // PIXIU's conversation format, which prepare-data recognises and converts.
    private static readonly string[] PixiuLines =
    [
        """{"id":"p0","conversations":[{"from":"human","value":"Analyze the sentiment.\nText: Sales rose.\nAnswer:"},{"from":"agent","value":"positive"}],"text":"Sales rose."}""",
        """{"id":"p1","conversations":[{"from":"human","value":"Find entities.\nText: Apple Inc sued.\nAnswer:"},{"from":"gpt","value":"Apple Inc, ORG"}],"label":["B-ORG","I-ORG","O"]}""",
    ];

    private static readonly FlareTask[] Tasks = new[] { "fpb", "headlines", "ner", "finqa" }.Select(FlareTasks.Get).ToArray();
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void The_seed_reads_for_every_task()
    {
        var path = Path.Combine(_dir, "seed.jsonl");
        File.WriteAllLines(path, SeedLines);
        Assert.Equal(3, FlareJsonl.Read(path, FlareTasks.Get("fpb"), "train").Rows.Count);
        Assert.Equal(3, FlareJsonl.Read(path, FlareTasks.Get("ner"), "train").Rows.Count);
    }

    [Fact]
    public void Mutated_jsonl_reads_or_is_refused_with_a_clear_error()
    {
        var fuzz = new FuzzCase("flare-jsonl");
        // format: 0 FLARE JSONL, 1 FLARE .json array (both read directly), 2 FLARE and 3 PIXIU JSONL through prepare-data --source.
        var gen = Gen.Select(Gen.Int[0, 9], Mutations.Gen(4), Mutations.Gen(4), Gen.Int[0, 2], Gen.Int[0, Tasks.Length - 1], Gen.Bool, Gen.Int[0, 3]);
        var sw = Stopwatch.StartNew();
        gen.Sample((line, structure, bytes, mode, t, skip, format) =>
        {
            var task = Tasks[t];
            var lines = (format == 3 ? PixiuLines : SeedLines).ToArray();
            if (mode != 1) lines[line % lines.Length] = Mutations.ApplyJson(lines[line % lines.Length], structure);
            var text = format == 1 ? "[" + string.Join(",\n", lines) + "]" : string.Join("\n", lines);
            var input = Encoding.UTF8.GetBytes(text);
            if (mode != 0) input = Mutations.ApplyBytes(input, bytes);
            var source = Path.Combine(_dir, "source", task.Name);
            Directory.CreateDirectory(source);
            foreach (var old in Directory.GetFiles(source)) File.Delete(old);
            var path = Path.Combine(source, format == 1 ? "test.json" : "test.jsonl");
            File.WriteAllBytes(path, input);
            fuzz.Run(input, () =>
            {
                if (format >= 2)
                {
                    var prepared = DatasetPreparer.PrepareLocal(Path.Combine(_dir, "source"), Path.Combine(_dir, "prepared"), [task], skip);
                    Assert.Equal(task.Name, prepared.Single().Task);
                    return;
                }
                var (rows, report) = FlareJsonl.Read(path, task, "test", skip);
                Assert.Equal(rows.Count, report.Rows);
                Assert.Equal(report.Skipped, report.Problems.Count);
                foreach (var r in rows) Assert.Equal(r.Query, FlareJsonl.FromJson(FlareJsonl.ToJson(r), task, "test", r.Id).Query);
            });
        }, iter: FuzzCase.Iter, threads: 1);
        output.WriteLine(fuzz.Summary(sw.Elapsed));
    }

    [Fact]
    public void Rows_round_trip_through_jsonl()
    {
        var text = Gen.String[Gen.Char.AlphaNumeric, 1, 40];
        Gen.Select(text, text, Gen.Int[0, 2], Gen.Int[0, 100]).Array[1, 20].Sample(specs =>
        {
            var task = FlareTasks.Get("fpb");
            var rows = specs.Select((s, i) => new FlareRow { Id = $"r{i}", Task = "fpb", Split = "test", Query = s.Item1 + "\n\"q\"", Answer = task.Choices[s.Item3], Text = s.Item2, Choices = task.Choices, Gold = s.Item3, Turn = s.Item4 }).ToList();
            var path = Path.Combine(_dir, "rt.jsonl");
            FlareJsonl.Write(path, rows);
            var (back, report) = FlareJsonl.Read(path, task, "test");
            Assert.Equal(0, report.Skipped);
            Assert.Equal(rows.Select(r => (r.Id, r.Query, r.Answer, r.Text, r.Gold, r.Turn)), back.Select(r => (r.Id, r.Query, r.Answer, r.Text, r.Gold, r.Turn)));
        }, iter: Math.Min(FuzzCase.Iter, 300), threads: 1);
    }
}
