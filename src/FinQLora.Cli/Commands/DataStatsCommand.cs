using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Data;
using FinQLora.Reports.Figures;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora data stats`: rows and token lengths per task and split, and a length histogram PNG.</summary>
internal static class DataStatsCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "A prepared data folder (<task>/<split>.jsonl, as prepare-data writes, or samples/).", Required = true };
        var model = new Option<string?>("--model") { Description = "Model folder whose tokenizer to use (default: the bundled Llama-3 tokenizer)." };
        var maxLength = new Option<int>("--max-length") { Description = "Training max length: rows longer than this are counted as truncated.", DefaultValueFactory = _ => 2048 }.AtLeast(1);
        var system = new Option<string?>("--system-prompt") { Description = "System prompt included in every prompt (as in training)." };
        var tasks = new Option<string>("--tasks") { Description = "all, or a comma-separated list of tasks.", DefaultValueFactory = _ => "all" }.Tasks();
        var limit = new Option<int>("--limit") { Description = "Use only the first N rows of each split (0 = all).", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var output = new Option<string?>("--output") { Description = "Folder for stats.json and length-histogram.png (without it only the table is printed: nothing is written into the data folder)." };
        var stats = new Command("stats", "Rows, token-length p50/p95/max and rows over --max-length per task and split; writes stats.json and a 300-DPI length histogram.")
            { data, model, maxLength, system, tasks, limit, output };
        stats.SetAction(parse =>
        {
            var dir = parse.GetValue(data)!;
            int max = parse.GetValue(maxLength);
            var tokenizer = parse.GetValue(model) is { } m ? LlamaTokenizer.FromModelDirectory(m) : LlamaTokenizer.Llama3();
            var result = DataStats.Compute(dir, tokenizer, max, parse.GetValue(system), parse.GetValue(limit), FlareTasks.Parse(parse.GetValue(tasks)!));
            Console.WriteLine($"{"task",-10} {"split",-6} {"rows",7} {"p50",6} {"p95",6} {"max",6} {$"> {max}",8}");
            foreach (var s in result)
                Console.WriteLine($"{s.Task,-10} {s.Split,-6} {s.Rows,7} {s.P50,6} {s.P95,6} {s.Max,6} {s.Truncated,8}");
            if (parse.GetValue(output) is not { } outDir)
            {
                Console.WriteLine("no files written (pass --output DIR for stats.json and length-histogram.png)");
                return 0;
            }
            Directory.CreateDirectory(outDir);
            var json = new JsonArray(result.Select(s => (JsonNode)new JsonObject
            {
                ["task"] = s.Task, ["split"] = s.Split, ["rows"] = s.Rows, ["p50"] = s.P50, ["p95"] = s.P95, ["max"] = s.Max,
                ["truncated"] = s.Truncated, ["max_length"] = s.MaxLength,
            }).ToArray());
            FinQLora.IO.AtomicFile.WriteAllText(Path.Combine(outDir, "stats.json"), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            var png = Path.Combine(outDir, "length-histogram.png");
            LengthHistogram.Save(png, result.GroupBy(s => s.Task).Select(g => new LengthHistogram.Series(g.Key, g.SelectMany(s => s.Lengths).ToList())).ToList(), max);
            Console.WriteLine($"wrote {Path.GetFullPath(Path.Combine(outDir, "stats.json"))} and {Path.GetFullPath(png)}");
            return 0;
        });
        return new Command("data", "Data tools.") { stats };
    }
}
