namespace FinQLora.Evaluation;

/// <summary>
/// FLARE's NER scoring (PIXIU's process_text, then seqeval): each generated line is split on ", " and
/// its last piece is the type (any string, as written); the rest, joined back, is the entity, searched as
/// a substring of the row's text. Each occurrence tags the words it covers — B- on the first word that
/// starts at or after the match, I- on the following words that start inside it — all else O. Then
/// entity-level F1 over exact spans, micro-averaged over all rows (seqeval's default chunking).
/// One deliberate difference: PIXIU drops an occurrence that ends in the text's last word (its search
/// for the next word start raises and is swallowed); we tag it, so gold answers score 1.
/// </summary>
public static class NerScoring
{
    /// <summary>BIO tags for <paramref name="text"/>'s whitespace words from "entity, TYPE" lines.</summary>
    public static string[] Tags(string output, string text)
    {
        var (words, starts) = Words(text);
        var tags = Enumerable.Repeat("O", words.Count).ToArray();
        foreach (var line in output.Split('\n'))
        {
            var pieces = line.Split(", ");
            var type = pieces[^1];
            var entity = string.Join(", ", pieces[..^1]);
            if (entity.Length == 0) continue;
            for (int at = text.IndexOf(entity, StringComparison.Ordinal); at >= 0;
                 at = text.IndexOf(entity, at + entity.Length, StringComparison.Ordinal))
            {
                int last = at + entity.Length - 1;
                int first = starts.FindIndex(s => s >= at);
                if (first < 0) continue;   // the match starts inside the last word: PIXIU skips it too
                int next = starts.FindIndex(s => s > last);
                if (next < 0) next = words.Count;
                tags[first] = "B-" + type;
                for (int i = first + 1; i < next; i++) tags[i] = "I-" + type;
            }
        }
        return tags;
    }

    /// <summary>The whitespace-separated words of <paramref name="text"/> and their character offsets.</summary>
    private static (List<string> Words, List<int> Starts) Words(string text)
    {
        var words = new List<string>();
        var starts = new List<int>();
        for (int i = 0; i < text.Length;)
        {
            if (char.IsWhiteSpace(text[i])) { i++; continue; }
            int j = i;
            while (j < text.Length && !char.IsWhiteSpace(text[j])) j++;
            words.Add(text[i..j]);
            starts.Add(i);
            i = j;
        }
        return (words, starts);
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
