using FinQLora.Tasks;

namespace FinQLora.Data.Originals;

/// <summary>
/// The SEC-filings NER data of Alvarado et al. (2015) in CoNLL format (token POS chunk tag per line,
/// sentences separated by blank lines, IO tags) as FLARE NER rows, the way FLARE built them (checked
/// against FLARE's test rows): one row per sentence that has a PER, ORG or LOC entity; text = the tokens
/// joined by spaces; label = BIO tags (a run of equal I-X tags is one entity: B-X then I-X; MISC → O);
/// answer = one "entity, TYPE" line per entity in order. FIN3 is the test file; FIN5 is split into
/// train and valid by <see cref="DeterministicSplit"/> of the sentence (20% valid).
/// </summary>
public static class FinNerConll
{
    public const string Instruction = "In the sentences extracted from financial agreements in U.S. SEC filings, identify the named entities that represent a person ('PER'), an organization ('ORG'), or a location ('LOC'). The required answer format is: 'entity name, entity type'.";

    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, bool isTest, bool skipBadRows = false)
    {
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        var words = new List<string>();
        var tags = new List<string>();
        int lineNo = 0, start = 1;
        void Flush()
        {
            if (words.Count > 0) { if (Build(words, tags, isTest) is { } row) rows.Add(row); }
            words.Clear(); tags.Clear();
        }
        foreach (var line in FpbSentences.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) { Flush(); start = lineNo + 1; continue; }
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts[0] == "-DOCSTART-") continue;
            if (parts.Length < 2 || !(parts[^1] == "O" || parts[^1].StartsWith("I-", StringComparison.Ordinal) || parts[^1].StartsWith("B-", StringComparison.Ordinal)))
            {
                var message = $"{path}:{lineNo}: expected 'token ... TAG' with an O, I-X or B-X tag";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
                continue;
            }
            words.Add(parts[0]);
            tags.Add(parts[^1]);
        }
        Flush();
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }

    private static FlareRow? Build(List<string> words, List<string> tags, bool isTest)
    {
        var bio = new List<string>();
        var entities = new List<(List<string> Words, string Type)>();
        string previous = "O";
        for (int i = 0; i < words.Count; i++)
        {
            var tag = tags[i];
            var type = tag == "O" ? "" : tag[2..];
            if (type is not ("PER" or "ORG" or "LOC")) { bio.Add("O"); previous = "O"; continue; }
            bool continues = previous != "O" && previous[2..] == type && !tag.StartsWith("B-", StringComparison.Ordinal);
            if (continues) { bio.Add("I-" + type); entities[^1].Words.Add(words[i]); }
            else { bio.Add("B-" + type); entities.Add(([words[i]], type)); }
            previous = tag;
        }
        if (entities.Count == 0) return null;
        var text = string.Join(' ', words);
        return new FlareRow
        {
            Id = "ner-" + DeterministicSplit.Id(text), Task = "ner",
            Split = isTest ? "test" : DeterministicSplit.Of(text, testPercent: 0, validPercent: 20),
            Query = $"{Instruction}\nText: {text}\nAnswer:",
            Answer = string.Join('\n', entities.Select(e => $"{string.Join(' ', e.Words)}, {e.Type}")),
            Text = text, Label = bio,
        };
    }
}
