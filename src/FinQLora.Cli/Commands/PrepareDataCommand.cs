using System.CommandLine;
using FinQLora.Data;
using FinQLora.Tasks;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora prepare-data`: FLARE tasks into normalized JSONL per task and split, plus a manifest.</summary>
internal static class PrepareDataCommand
{
    /// <summary>Downloads from the Hub into a folder that <see cref="DatasetPreparer.PrepareLocal"/> then reads (set by the Hub code).</summary>
    public static Func<IReadOnlyList<FlareTask>, string, Action<string>, string>? HubDownload { get; set; }

    public static Command Create()
    {
        var tasks = new Option<string>("--tasks") { Description = "all, or a comma-separated list (fpb,fiqasa,headlines,ner,finqa,convfinqa,acl18,bigdata22,cikm18).", DefaultValueFactory = _ => "all" };
        var output = new Option<string>("--output") { Description = "Folder for <task>/<split>.jsonl and manifest.json.", Required = true };
        var source = new Option<string?>("--source") { Description = "Read a local folder instead of the Hub (FLARE or PIXIU JSONL, .jsonl.xz too)." };
        var offline = new Option<bool>("--offline") { Description = "Never touch the network (needs --source)." };
        var skip = new Option<bool>("--skip-bad-rows") { Description = "Skip invalid rows (counted and reported) instead of stopping at the first." };
        var command = new Command("prepare-data", "Prepare FLARE task data: one normalized JSONL per task and split, and manifest.json.") { tasks, output, source, offline, skip };
        command.SetAction(parse =>
        {
            var selected = FlareTasks.Parse(parse.GetValue(tasks)!);
            var src = parse.GetValue(source);
            void Log(string m) => Console.Error.WriteLine(m);
            if (src is null)
            {
                if (parse.GetValue(offline)) throw new FinQLoraException("--offline needs --source DIR (a folder with the task files)");
                src = (HubDownload ?? throw new FinQLoraException("Hub download is not available in this build; use --source DIR"))(selected, parse.GetValue(output)!, Log);
            }
            var result = DatasetPreparer.PrepareLocal(src, parse.GetValue(output)!, selected, parse.GetValue(skip), Log);
            foreach (var t in result)
                Console.WriteLine(t.NoDataReason is null
                    ? $"{t.Task,-10} {string.Join("  ", t.Splits.Select(s => $"{s.Key}: {s.Value.Rows}"))}"
                    : $"{t.Task,-10} no data");
            Console.WriteLine($"wrote {Path.GetFullPath(parse.GetValue(output)!)} (manifest.json)");
            return 0;
        });
        return command;
    }
}
