using System.Text;
using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// The Financial PhraseBank original (<c>Sentences_50Agree.txt</c> etc.: one <c>sentence@label</c> per
/// line) as FLARE FPB rows: FLARE's FPB query around the sentence, the label as answer, its index in
/// the FPB choices as gold. Split by <see cref="DeterministicSplit"/> of the sentence (20% test, 16%
/// valid, 64% train ≈ FLARE's 970/776/3100). Files are UTF-8, or Latin-1 as the original release.
/// </summary>
public static class FpbSentences
{
    public const string Instruction = "Analyze the sentiment of this statement extracted from a financial news article. Provide your answer as either negative, positive, or neutral.";

    public static string Query(string sentence) => $"{Instruction}\nText: {sentence}\nAnswer:";

    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, bool skipBadRows = false)
    {
        var task = FlareTasks.Get("fpb");
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int lineNo = 0;
        foreach (var line in ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            int at = line.LastIndexOf('@');
            var label = at < 0 ? "" : line[(at + 1)..].Trim().ToLowerInvariant();
            int gold = task.Choices.ToList().IndexOf(label);
            if (at <= 0 || gold < 0)
            {
                var message = $"{path}:{lineNo}: expected 'sentence@positive|neutral|negative'";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
                continue;
            }
            var sentence = line[..at].Trim();
            if (!seen.Add(sentence)) continue;   // the release repeats a few sentences
            rows.Add(new FlareRow
            {
                Id = "fpb-" + DeterministicSplit.Id(sentence), Task = "fpb", Split = DeterministicSplit.Of(sentence),
                Query = Query(sentence), Answer = label, Text = sentence, Choices = task.Choices, Gold = gold,
            });
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }

    internal const long MaxBytes = 64L << 20;

    /// <summary>Lines as UTF-8, falling back to Latin-1 for the whole file when it is not valid UTF-8.</summary>
    internal static string[] ReadLines(string path)
    {
        // the original files are about 0.7 MB; the whole file is decoded at once (its encoding is decided per file)
        var bytes = IO.InputFile.ReadBytes(path, MaxBytes);
        try { return new UTF8Encoding(false, true).GetString(bytes).Split('\n').Select(l => l.TrimEnd('\r')).ToArray(); }
        catch (DecoderFallbackException) { return Encoding.Latin1.GetString(bytes).Split('\n').Select(l => l.TrimEnd('\r')).ToArray(); }
    }
}
