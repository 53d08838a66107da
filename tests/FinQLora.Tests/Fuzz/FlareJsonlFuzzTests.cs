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
        var gen = Gen.Select(Gen.Int[0, SeedLines.Length - 1], Mutations.Gen(4), Mutations.Gen(4), Gen.Int[0, 2], Gen.Int[0, Tasks.Length - 1], Gen.Bool, Gen.Bool);
        var sw = Stopwatch.StartNew();
        gen.Sample((line, structure, bytes, mode, task, skip, asArray) =>
        {
            var lines = SeedLines.ToArray();
            if (mode != 1) lines[line] = Mutations.ApplyJson(lines[line], structure);
            var text = asArray ? "[" + string.Join(",\n", lines) + "]" : string.Join("\n", lines);
            var input = Encoding.UTF8.GetBytes(text);
            if (mode != 0) input = Mutations.ApplyBytes(input, bytes);
            var path = Path.Combine(_dir, asArray ? "rows.json" : "rows.jsonl");
            File.WriteAllBytes(path, input);
            fuzz.Run(input, () =>
            {
                var (rows, report) = FlareJsonl.Read(path, Tasks[task], "test", skip);
                Assert.Equal(rows.Count, report.Rows);
                Assert.Equal(report.Skipped, report.Problems.Count);
                foreach (var r in rows) Assert.Equal(r.Query, FlareJsonl.FromJson(FlareJsonl.ToJson(r), Tasks[task], "test", r.Id).Query);
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
