using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// Finds the original datasets of a task under a folder (the layout of FinQLora's shared data,
/// <c>originals/</c>, or the files anywhere below) and turns them into FLARE rows of all three splits:
/// fpb: Sentences_50Agree.txt (or the lowest agreement level present); ner: FIN5.txt + FIN3.txt;
/// fiqasa: task1_post_ABSA_train.json; headlines: a gold-headlines CSV; acl18: stocknet*.tar.xz
/// (or its extracted folder); cikm18: *cikm18*.tar.xz; bigdata22: *bigdata22*.tar.xz.
/// FinQA and ConvFinQA have no reader here (their originals are not FLARE-shaped prompts).
/// </summary>
public static class OriginalSources
{
    /// <summary>The original files for <paramref name="task"/> under <paramref name="source"/> (empty when none).</summary>
    public static IReadOnlyList<string> Find(string source, FlareTask task, IReadOnlyList<string>? allFiles = null)
    {
        var files = allFiles ?? Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).ToList();
        string Name(string f) => Path.GetFileName(f);
        switch (task.Name)
        {
            case "fpb":
                var levels = files.Where(f => Name(f).StartsWith("Sentences_", StringComparison.Ordinal) && Name(f).EndsWith("Agree.txt", StringComparison.Ordinal))
                    .OrderBy(f => Name(f) == "Sentences_AllAgree.txt" ? 100 : int.TryParse(Name(f)[10..^9], out var p) ? p : 99).ToList();
                return levels.Take(1).ToList();
            case "ner":
                var fin5 = files.FirstOrDefault(f => Name(f) == "FIN5.txt");
                var fin3 = files.FirstOrDefault(f => Name(f) == "FIN3.txt");
                return fin5 is not null && fin3 is not null ? [fin5, fin3] : [];
            case "fiqasa":
                return files.Where(f => Name(f).StartsWith("task1_post", StringComparison.OrdinalIgnoreCase) && Name(f).EndsWith(".json", StringComparison.OrdinalIgnoreCase)).Take(1).ToList();
            case "headlines":
                return files.Where(f => Name(f).EndsWith(".csv", StringComparison.OrdinalIgnoreCase) && Name(f).Contains("gold", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).Take(1).ToList();
            case "acl18" or "cikm18" or "bigdata22":
                var key = task.Name == "acl18" ? "stocknet" : task.Name;
                var archive = files.Where(f => Name(f).Contains(key, StringComparison.OrdinalIgnoreCase) && Name(f).EndsWith(".tar.xz", StringComparison.OrdinalIgnoreCase)).Order(StringComparer.Ordinal).FirstOrDefault();
                if (archive is not null) return [archive];
                var folder = Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories)
                    .FirstOrDefault(d => Path.GetFileName(d).Contains(key, StringComparison.OrdinalIgnoreCase) && Directory.EnumerateDirectories(d, "price", SearchOption.AllDirectories).Any());
                return folder is null ? [] : [folder];
            default:
                return [];
        }
    }

    /// <summary>The rows built from <paramref name="files"/> (as <see cref="Find"/> returned them), all splits.</summary>
    public static (List<FlareRow> Rows, ReadReport Report) Read(FlareTask task, IReadOnlyList<string> files, bool skipBadRows)
    {
        switch (task.Name)
        {
            case "fpb": return FpbSentences.Read(files[0], skipBadRows);
            case "fiqasa": return FiqaPosts.Read(files[0], skipBadRows);
            case "headlines": return GoldHeadlines.Read(files[0], skipBadRows);
            case "ner":
                var (train, r1) = FinNerConll.Read(files[0], isTest: false, skipBadRows);
                var (test, r2) = FinNerConll.Read(files[1], isTest: true, skipBadRows);
                return ([.. train, .. test], new ReadReport(r1.Rows + r2.Rows, r1.Skipped + r2.Skipped, [.. r1.Problems, .. r2.Problems]));
            case "acl18" or "cikm18" or "bigdata22":
                var rows = StockMovement.FromArchive(StockArchive.Open(files[0]), task.Name);
                return (rows, new ReadReport(rows.Count, 0, []));
            default:
                throw new FinQLoraException($"{task.Name}: no reader for its original data");
        }
    }
}
