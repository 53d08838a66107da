using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Data;

/// <summary>What prepare-data found for one task.</summary>
public sealed record PreparedTask(string Task, IReadOnlyDictionary<string, PreparedSplit> Splits, string? NoDataReason);

public sealed record PreparedSplit(int Rows, int Skipped, IReadOnlyList<string> Sources, string Output, string Sha256);

/// <summary>
/// Reads each task's splits from a local folder and writes one normalized FLARE JSONL per task and
/// split (<c>OUTPUT/&lt;task&gt;/&lt;split&gt;.jsonl</c>) plus <c>manifest.json</c> (counts, sources, hashes,
/// and the tasks that had no data). A local folder may hold, for a task T and split S:
/// <c>T/S.jsonl</c> (FLARE or PIXIU format, detected per file), or <c>T-S*.jsonl</c> anywhere below it
/// (as in FinQLora's shared data: flare/ner-test-sample.jsonl, pixiu-instructions/ner-valid.jsonl).
/// </summary>
public static class DatasetPreparer
{
    public static readonly string[] SplitNames = ["train", "valid", "test"];

    public static IReadOnlyList<PreparedTask> PrepareLocal(string source, string output, IReadOnlyList<FlareTask> tasks, bool skipBadRows, Action<string>? log = null)
    {
        if (!Directory.Exists(source)) throw new FinQLoraException($"--source {source}: folder not found");
        var everything = Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).ToList();
        var all = everything.Where(f => f.EndsWith(".jsonl", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".jsonl.xz", StringComparison.Ordinal)).ToList();
        var folder = PreparedFolder.Begin(output, source, tasks.Select(t => t.Name), everything);
        try
        {
            var results = Prepare(source, folder.Staging, tasks, skipBadRows, log, everything, all);
            WriteManifest(folder.Staging, source, results);
            folder.Commit(tasks.Select(t => t.Name));
            return results;
        }
        catch
        {
            folder.Abandon();
            throw;
        }
    }

    private static List<PreparedTask> Prepare(string source, string output, IReadOnlyList<FlareTask> tasks, bool skipBadRows, Action<string>? log,
        List<string> everything, List<string> all)
    {
        using var scratch = new ScratchFolder();
        var results = new List<PreparedTask>();
        foreach (var task in tasks)
        {
            var splits = new Dictionary<string, PreparedSplit>();
            var found = SplitNames.Select(split => (split, files: FilesFor(source, all, task, split).Concat(ParquetFilesFor(source, everything, task, split)).ToList()))
                .Where(x => x.files.Count > 0).ToList();
            var originals = Originals.OriginalSources.Find(source, task, everything);
            if (originals.Count > 0 && found.Count < SplitNames.Length)
            {
                // FLARE-format files cover only some splits here: the originals give all three (one kind of source per task, no leakage between splits).
                var (rows, report) = Originals.OriginalSources.Read(task, originals, skipBadRows);
                foreach (var p in report.Problems) log?.Invoke($"skipped: {p}");
                var sources = originals.Select(f => Path.GetRelativePath(source, f)).ToList();
                foreach (var split in SplitNames)
                {
                    var part = rows.Where(r => r.Split == split).ToList();
                    if (part.Count == 0) continue;
                    splits[split] = WriteSplit(output, task, split, part, split == SplitNames[0] ? report.Skipped : 0, sources);
                    log?.Invoke($"{task.Name}/{split}: {part.Count} rows from the original data ({string.Join(", ", originals.Select(Path.GetFileName))})");
                }
            }
            else
            {
                foreach (var (split, files) in found)
                {
                    var rows = new List<FlareRow>();
                    int skipped = 0;
                    foreach (var original in files)
                    {
                        var f = original.EndsWith(".xz", StringComparison.Ordinal) ? scratch.Decompress(original) : original;
                        var (r, report) = f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? FlareParquet.Read(f, task, split, skipBadRows)
                            : IsPixiu(f) ? PixiuJsonl.Read(f, task, split, skipBadRows) : FlareJsonl.Read(f, task, split, skipBadRows);
                        // an empty file (or one whose every row was bad, or a Parquet file whose damaged footer lists no rows) is no split
                        if (r.Count == 0)
                            throw new FinQLoraException($"{original}: no usable rows{(report.Skipped > 0 ? $" ({report.Skipped} bad rows skipped)" : " (an empty or damaged file?)")}: fix or remove it");
                        rows.AddRange(r);
                        skipped += report.Skipped;
                        foreach (var p in report.Problems) log?.Invoke($"skipped: {p}");
                    }
                    splits[split] = WriteSplit(output, task, split, rows, skipped, files.Select(f => Path.GetRelativePath(source, f)).ToList());
                    log?.Invoke($"{task.Name}/{split}: {rows.Count} rows{(skipped > 0 ? $", {skipped} bad rows skipped" : "")} from {string.Join(", ", files.Select(Path.GetFileName))}");
                }
            }
            results.Add(new PreparedTask(task.Name, splits, splits.Count == 0 ? NoDataReason(task, source) : null));
            if (splits.Count == 0) log?.Invoke($"{task.Name}: no data under {source}");
        }
        return results;
    }

    private static string NoDataReason(FlareTask task, string source) => task.Name switch
    {
        "convfinqa" => $"no convfinqa files under {source} (FLARE/PIXIU JSONL or Parquet; ConvFinQA has no originals reader)",
        "finqa" => $"no finqa files under {source} (FLARE/PIXIU JSONL or Parquet; FinQA has no originals reader)",
        _ => $"no {task.Name} files under {source} (FLARE/PIXIU JSONL, Parquet, or its original dataset)",
    };

    private static PreparedSplit WriteSplit(string output, FlareTask task, string split, List<FlareRow> rows, int skipped, List<string> sources)
    {
        var outPath = Path.Combine(output, task.Name, split + ".jsonl");
        FlareJsonl.Write(outPath, rows);
        return new PreparedSplit(rows.Count, skipped, sources, Path.GetRelativePath(output, outPath), Sha256(outPath));
    }

    /// <summary>
    /// Parquet files of a task and split: below a folder named as the task or its Hub dataset
    /// (fpb/, flare-fpb/, TheFinAI/flare-fpb/), with the split in the Hub's layout
    /// (data/test-00000-of-00001.parquet, default/test/0000.parquet, test/x.parquet).
    /// </summary>
    private static List<string> ParquetFilesFor(string source, List<string> everything, FlareTask task, string split)
    {
        var repoName = task.HubDataset.Split('/')[^1];
        return everything.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase))
            .Where(f =>
            {
                var rel = Path.GetRelativePath(source, f).Replace('\\', '/');
                var dirs = rel.Split('/')[..^1];
                return dirs.Any(d => d.Equals(task.Name, StringComparison.OrdinalIgnoreCase) || d.Equals(repoName, StringComparison.OrdinalIgnoreCase))
                    && Hub.HubSplits.Infer(rel[(rel.IndexOf('/') + 1)..]) == split;
            }).Order(StringComparer.Ordinal).ToList();
    }

    private static List<string> FilesFor(string source, List<string> all, FlareTask flareTask, string split)
    {
        var task = flareTask.Name;
        var direct = Path.Combine(source, task, split + ".jsonl");
        if (File.Exists(direct)) return [direct];
        return all.Where(f =>
        {
            var name = Path.GetFileName(f);
            return name.StartsWith($"{task}-{split}", StringComparison.OrdinalIgnoreCase) && (name.Length == task.Length + split.Length + 1 + 6 || !char.IsLetterOrDigit(name[task.Length + split.Length + 1]));
        }).Order(StringComparer.Ordinal).ToList();
    }

    /// <summary>A temporary folder for decompressed .xz inputs, deleted afterwards.</summary>
    private sealed class ScratchFolder : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "finqlora-prepare-" + Guid.NewGuid().ToString("N"));

        public string Decompress(string xzPath)
        {
            Directory.CreateDirectory(_dir);
            var target = Path.Combine(_dir, Path.GetFileNameWithoutExtension(xzPath));
            try
            {
                using var input = IO.InputFile.OpenRead(xzPath);
                using var xz = new SharpCompress.Compressors.Xz.XZStream(input);
                using var output = File.Create(target);
                xz.CopyTo(output);
            }
            catch (Exception e) when (e is not FinQLoraException)
            {
                throw new FinQLoraException($"{xzPath}: cannot decompress ({e.Message})");
            }
            return target;
        }

        public void Dispose()
        {
            if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
        }
    }

    /// <summary>Format detection from the first non-blank line, read with the JSONL line cap (a file without newlines costs no more than the cap).</summary>
    private static bool IsPixiu(string path)
    {
        foreach (var (_, line) in IO.LineReader.Read(path, FlareJsonl.MaxLineChars))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try { return IO.JsonFile.ParseNode(line) is JsonObject o && o.ContainsKey("conversations"); }
            catch (JsonException) { return false; }   // the reader reports it with its line number
        }
        return false;
    }

    public static void WriteManifest(string output, string source, IReadOnlyList<PreparedTask> tasks)
    {
        var manifest = new JsonObject
        {
            ["created_utc"] = DateTime.UtcNow.ToString("o"),
            ["source"] = source,
            ["tasks"] = new JsonObject(tasks.Select(t => KeyValuePair.Create(t.Task, (JsonNode?)new JsonObject
            {
                ["status"] = t.NoDataReason is null ? "ok" : "no data",
                ["reason"] = t.NoDataReason,
                ["splits"] = new JsonObject(t.Splits.Select(s => KeyValuePair.Create(s.Key, (JsonNode?)new JsonObject
                {
                    ["rows"] = s.Value.Rows, ["skipped_bad_rows"] = s.Value.Skipped, ["file"] = s.Value.Output, ["sha256"] = s.Value.Sha256,
                    ["sources"] = new JsonArray(s.Value.Sources.Select(x => (JsonNode)x).ToArray()),
                }))),
            }))),
        };
        Directory.CreateDirectory(output);
        var path = Path.Combine(output, "manifest.json");
        IO.AtomicFile.WriteAllText(path, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    public static string Sha256(string path)
    {
        using var s = IO.InputFile.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    /// <summary>
    /// Reads DIR/&lt;task&gt;/&lt;split&gt;.jsonl (FLARE or PIXIU format: prepare-data's output, or samples/ as
    /// shipped), or null when absent.
    /// With <paramref name="skipBadRows"/>, bad rows are skipped and <paramref name="log"/> hears how many and the first.
    /// </summary>
    public static List<FlareRow>? ReadPrepared(string dataDir, FlareTask task, string split, bool skipBadRows = false, Action<string>? log = null)
    {
        PreparedFolder.ThrowIfIncomplete(dataDir);
        var path = Path.Combine(dataDir, task.Name, split + ".jsonl");
        if (!File.Exists(path)) return null;
        var (rows, report) = IsPixiu(path) ? PixiuJsonl.Read(path, task, split, skipBadRows) : FlareJsonl.Read(path, task, split, skipBadRows);
        if (report.Skipped > 0)
            log?.Invoke($"{path}: skipped {report.Skipped} bad row(s): {report.Problems[0]}{(report.Skipped > 1 ? $" (and {report.Skipped - 1} more)" : "")}");
        return rows;
    }
}
