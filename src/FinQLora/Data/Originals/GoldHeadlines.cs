using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// The gold commodity news headlines (Sinha &amp; Khandait; the Kaggle CSV: News, Price Direction
/// Up/Constant/Down, Asset Comparision, Past Information, Future Information, Price Sentiment;
/// tab- or comma-separated) as FLARE Headlines rows: one row per headline and each of FLARE's 9 label
/// types, answer Yes/No. This CSV variant merges FLARE's price/news columns, so four label types are
/// derived (this reproduces the answers of FLARE's test rows for the headlines both hold, but for one
/// edge case): Price or Not = Price Sentiment ≠ none; PastPrice = Past Information ∧ Price or Not;
/// PastNews = Past Information ∧ ¬Price or Not; FuturePrice / FutureNews likewise from Future
/// Information. Headlines are lowercased and their whitespace collapsed, as in FLARE's rows. The query uses FLARE's instruction for the label type and one of its question wordings.
/// Split by <see cref="DeterministicSplit"/> of the headline (20% test, 10% valid).
/// </summary>
public static class GoldHeadlines
{
    /// <summary>FLARE's label types in its order, with the instruction FLARE puts before the question.</summary>
    public static readonly IReadOnlyList<(string LabelType, string Instruction)> LabelTypes =
    [
        ("Price or Not", "Consider whether the headline mentions the price of gold."),
        ("Direction Up", "Look for indications that the price of gold is increasing."),
        ("Direction Constant", "Look for indications that the price of gold is stable."),
        ("Direction Down", "Look for indications that the price of gold is decreasing."),
        ("PastPrice", "Consider whether the headline references past prices of gold."),
        ("FuturePrice", "Look for any mention of future gold prices."),
        ("PastNews", "Consider whether the headline discusses past events related to gold."),
        ("FutureNews", "Look for any references to future events concerning gold."),
        ("Asset Comparision", "Consider if the headline compares gold with other assets."),
    ];

    public static string Query(string labelType, string instruction, string headline) =>
        $"{instruction}. Does the news headline indicate a {labelType} in the context of gold commodities? Your answer should be Yes or No.\nText: {headline}\nAnswer:";

    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, bool skipBadRows = false)
    {
        var task = FlareTasks.Get("headlines");
        var lines = FpbSentences.ReadLines(path);
        if (lines.Length == 0) throw new FinQLoraException($"{path}: empty file");
        char sep = lines[0].Contains('\t') ? '\t' : ',';
        var records = Csv.Records(lines, sep).ToList();
        var header = records[0].Fields.Select(h => h.Replace(" ", "").ToLowerInvariant()).ToList();
        int Col(string name) => header.IndexOf(name.Replace(" ", "").ToLowerInvariant()) is var i and >= 0 ? i
            : throw new FinQLoraException($"{path}:1: no '{name}' column (found: {string.Join(", ", header)})");
        int news = Col("News"), up = Col("Price Direction Up"), constant = Col("Price Direction Constant"), down = Col("Price Direction Down"),
            asset = Col("Asset Comparision"), past = Col("Past Information"), future = Col("Future Information"), sentiment = Col("Price Sentiment");
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (lineNo, f) in records.Skip(1))
        {
            bool Flag(int c) => f[c].Trim() switch { "1" => true, "0" => false, var x => throw new FlareJsonl.RowException($"column {header[c]} must be 0 or 1, got '{x}'") };
            try
            {
                if (f.Count < header.Count) throw new FlareJsonl.RowException($"expected {header.Count} fields, got {f.Count}");
                var headline = string.Join(' ', f[news].Split((char[])[' ', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();
                if (headline.Length == 0) throw new FlareJsonl.RowException("empty News");
                if (!seen.Add(headline)) continue;
                bool price = f[sentiment].Trim().ToLowerInvariant() is var s && s != "none" && s.Length > 0;
                bool pastInfo = Flag(past), futureInfo = Flag(future);
                var answers = new Dictionary<string, bool>
                {
                    ["Price or Not"] = price, ["Direction Up"] = Flag(up), ["Direction Constant"] = Flag(constant), ["Direction Down"] = Flag(down),
                    ["PastPrice"] = pastInfo && price, ["FuturePrice"] = futureInfo && price, ["PastNews"] = pastInfo && !price,
                    ["FutureNews"] = futureInfo && !price, ["Asset Comparision"] = Flag(asset),
                };
                var split = DeterministicSplit.Of(headline, testPercent: 20, validPercent: 10);
                var id = DeterministicSplit.Id(headline);
                foreach (var (labelType, instruction) in LabelTypes)
                {
                    bool yes = answers[labelType];
                    rows.Add(new FlareRow
                    {
                        Id = $"headlines-{id}-{labelType.Replace(" ", "").ToLowerInvariant()}", Task = "headlines", Split = split,
                        Query = Query(labelType, instruction, headline), Answer = yes ? "Yes" : "No", Text = headline,
                        Choices = task.Choices, Gold = yes ? 0 : 1, LabelType = labelType,
                    });
                }
            }
            catch (FlareJsonl.RowException e)
            {
                var message = $"{path}:{lineNo}: {e.Message}";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
            }
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }
}

/// <summary>CSV/TSV records ("…" quoting with "" for a quote; quoted fields may span lines), with the line each starts on.</summary>
internal static class Csv
{
    public static IEnumerable<(int Line, List<string> Fields)> Records(IReadOnlyList<string> lines, char sep)
    {
        var fields = new List<string>();
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        int start = 1;
        for (int n = 0; n < lines.Count; n++)
        {
            var line = lines[n];
            if (!quoted) { start = n + 1; fields = []; sb.Clear(); }
            else sb.Append('\n');
            for (int i = 0; i < line.Length; i++)
            {
                char c = line[i];
                if (quoted)
                {
                    if (c == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                    else if (c == '"') quoted = false;
                    else sb.Append(c);
                }
                else if (c == '"' && sb.Length == 0) quoted = true;
                else if (c == sep) { fields.Add(sb.ToString()); sb.Clear(); }
                else sb.Append(c);
            }
            if (quoted && n < lines.Count - 1) continue;
            fields.Add(sb.ToString());
            quoted = false;
            if (fields.Count == 1 && fields[0].Trim().Length == 0) continue;
            yield return (start, fields);
        }
    }
}
