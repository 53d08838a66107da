namespace FinQLora.Evaluation;

/// <summary>
/// FLARE's NER scoring: the generated lines "entity, TYPE" become BIO tags over the whitespace
/// words of the row's text (every occurrence of the entity's words is tagged), then entity-level
/// F1 over exact spans, micro-averaged over all rows, as seqeval's default (conlleval) chunking does.
/// </summary>
public static class NerScoring
{
    public static readonly string[] Types = ["PER", "ORG", "LOC"];

    /// <summary>BIO tags for <paramref name="text"/>'s words from "entity, TYPE" lines.</summary>
    public static string[] Tags(string output, string text)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var tags = Enumerable.Repeat("O", words.Length).ToArray();
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            int cut = line.LastIndexOf(", ", StringComparison.Ordinal);
            if (cut <= 0) continue;
            var type = line[(cut + 2)..].Trim();
            if (!Types.Contains(type)) continue;
            var entity = line[..cut].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (entity.Length == 0) continue;
            for (int i = 0; i + entity.Length <= words.Length; i++)
            {
                if (!entity.Select((w, j) => words[i + j] == w).All(x => x)) continue;
                tags[i] = "B-" + type;
                for (int j = 1; j < entity.Length; j++) tags[i + j] = "I-" + type;
            }
        }
        return tags;
    }

    /// <summary>Entity spans (type, start, end) of a BIO sequence, conlleval-style.</summary>
    public static HashSet<(string Type, int Start, int End)> Spans(IReadOnlyList<string> tags)
    {
        var spans = new HashSet<(string, int, int)>();
        string? type = null;
        int start = 0;
        for (int i = 0; i <= tags.Count; i++)
        {
            string tag = i < tags.Count ? tags[i] : "O";
            string prefix = tag.Length >= 2 && tag[1] == '-' ? tag[..1] : tag;
            string? t = tag.Length > 2 && tag[1] == '-' ? tag[2..] : null;
            bool continues = prefix == "I" && type is not null && t == type;
            if (type is not null && !continues)
            {
                spans.Add((type, start, i));
                type = null;
            }
            if (t is not null && !continues) { type = t; start = i; }
        }
        return spans;
    }

    /// <summary>Micro entity F1 over rows of (gold tags, predicted tags).</summary>
    public static double EntityF1(IEnumerable<(IReadOnlyList<string> Gold, IReadOnlyList<string> Pred)> rows)
    {
        int tp = 0, nPred = 0, nGold = 0;
        foreach (var (gold, pred) in rows)
        {
            var g = Spans(gold);
            var p = Spans(pred);
            tp += p.Count(g.Contains);
            nPred += p.Count;
            nGold += g.Count;
        }
        double precision = nPred == 0 ? 0 : tp / (double)nPred;
        double recall = nGold == 0 ? 0 : tp / (double)nGold;
        return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
    }
}
