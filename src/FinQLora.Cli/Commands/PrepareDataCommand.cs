using System.CommandLine;
using FinQLora.Data;
using FinQLora.Hub;
using FinQLora.Tasks;
using Spectre.Console;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora prepare-data`: FLARE tasks into normalized JSONL per task and split, plus a manifest.</summary>
internal static class PrepareDataCommand
{
    public static Command Create()
    {
        var tasks = new Option<string>("--tasks") { Description = "all, or a comma-separated list (fpb,fiqasa,headlines,ner,finqa,convfinqa,acl18,bigdata22,cikm18).", DefaultValueFactory = _ => "all" }.Tasks();
        var output = new Option<string>("--output") { Description = "Folder for <task>/<split>.jsonl and manifest.json.", Required = true };
        var source = new Option<string?>("--source") { Description = "Read a local folder instead of the Hub (FLARE/PIXIU JSONL, .jsonl.xz, Parquet, or the original datasets)." };
        var offline = new Option<bool>("--offline") { Description = "Never touch the network (needs --source)." };
        var skip = new Option<bool>("--skip-bad-rows") { Description = "Skip invalid rows (counted and reported) instead of stopping at the first." };
        var cache = new Option<string?>("--cache") { Description = "Where Hub downloads go (resumable; default: OUTPUT/hub)." };
        var revision = new Option<string>("--revision") { Description = "Hub revision (branch, tag or commit) of the datasets.", DefaultValueFactory = _ => "main" };
        var allowHttp = new Option<bool>("--allow-http") { Description = "Allow a plain-HTTP HF_ENDPOINT on this machine (localhost, 127.0.0.1, ::1: a local mirror or test server); other hosts are HTTPS only." };
        var timeout = new Option<double>("--hub-timeout") { Description = "Seconds to wait for the Hub to answer (and between bytes of a download) before retrying.", DefaultValueFactory = _ => 300 };
        var attempts = new Option<int>("--hub-attempts") { Description = "Attempts per request (dropped connections, timeouts, 429 and 5xx are retried with exponential backoff).", DefaultValueFactory = _ => 5 }.AtLeast(1);
        var command = new Command("prepare-data", "Prepare FLARE task data from the Hub (HF_ENDPOINT, HF_TOKEN) or a local folder: one normalized JSONL per task and split, and manifest.json.")
            { tasks, output, source, offline, skip, cache, revision, allowHttp, timeout, attempts };
        command.SetAction(parse =>
        {
            var selected = FlareTasks.Parse(parse.GetValue(tasks)!);
            var outDir = parse.GetValue(output)!;
            var src = parse.GetValue(source);
            void Log(string m) => Console.Error.WriteLine(m);
            if (src is null)
            {
                if (parse.GetValue(offline)) throw new FinQLoraException("--offline needs --source DIR (a folder with the task files)");
                double seconds = parse.GetValue(timeout);
                int tries = parse.GetValue(attempts);
                if (!(seconds > 0) || tries < 1) throw new FinQLoraException("--hub-timeout must be > 0 and --hub-attempts >= 1", exitCode: 2);
                var settings = HubSettings.FromEnvironment() with
                {
                    Revision = parse.GetValue(revision)!, AllowLocalHttp = parse.GetValue(allowHttp),
                    Timeout = TimeSpan.FromSeconds(seconds), MaxAttempts = tries,
                };
                var cacheDir = parse.GetValue(cache) ?? Path.Combine(outDir, "hub");
                Log($"downloading from {settings.EndpointUri().Host}{(settings.Token is null ? "" : $" (token from {settings.TokenSource})")} into {cacheDir}");
                src = Download(selected, cacheDir, settings, Log);
            }
            IReadOnlyList<PreparedTask> result;
            try { result = DatasetPreparer.PrepareLocal(src, outDir, selected, parse.GetValue(skip), Log); }
            catch (BadRowException e) { throw e.WithHint("use --skip-bad-rows to skip such rows"); }
            foreach (var t in result)
                Console.WriteLine(t.NoDataReason is null
                    ? $"{t.Task,-10} {string.Join("  ", t.Splits.Select(s => $"{s.Key}: {s.Value.Rows}"))}"
                    : $"{t.Task,-10} no data ({t.NoDataReason})");
            Console.WriteLine($"wrote {Path.GetFullPath(outDir)} (manifest.json)");
            return 0;
        });
        return command;
    }

    /// <summary>Hub download with a progress bar on a terminal, plain lines (each file at 0/25/50/75/100%) otherwise.</summary>
    private static string Download(IReadOnlyList<FlareTask> tasks, string cacheDir, HubSettings settings, Action<string> log)
    {
        if (!Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Interactive)
        {
            string result = cacheDir;
            AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new DownloadedColumn(), new TransferSpeedColumn())
                .Start(ctx =>
                {
                    var bars = new Dictionary<string, ProgressTask>();
                    result = HubDownloader.Download(tasks, cacheDir, settings, m => AnsiConsole.MarkupLine(Markup.Escape(PrintableWriter.Escape(m))), p =>
                    {
                        if (!bars.TryGetValue(p.Path, out var bar)) bars[p.Path] = bar = ctx.AddTask(Markup.Escape(Path.GetFileName(p.Path)), maxValue: p.Total ?? 1);
                        if (p.Total is long t) bar.MaxValue = t;
                        bar.Value = p.Done;
                    });
                });
            return result;
        }
        var reported = new Dictionary<string, int>();
        return HubDownloader.Download(tasks, cacheDir, settings, log, p =>
        {
            if (p.Total is not long t || t == 0) return;
            int quarter = (int)(4 * p.Done / t);
            if (reported.TryGetValue(p.Path, out var q) && q >= quarter) return;
            reported[p.Path] = quarter;
            log($"  {p.Path}: {25 * quarter}% of {t:N0} bytes");
        });
    }
}
