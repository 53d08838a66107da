using System.Text;

namespace FinQLora.Evaluation;

/// <summary>How generated "entity, TYPE" lines become BIO tags on the text's words.</summary>
/// <remarks>
/// <see cref="Pixiu"/> is PIXIU's process_text, quirks included, so <c>entity_f1</c> equals the published
/// FLARE numbers: word starts are assumed one separator apart (the text's real spacing is ignored), and an
/// occurrence that ends in the text's last word is never tagged (its search for the next word start raises
/// and is swallowed). <see cref="Lenient"/> (<c>entity_f1_lenient</c>) uses the real word offsets and tags that
/// last-word occurrence, so a gold answer scores 1.
/// </remarks>
public enum NerTagging { Pixiu, Lenient }

/// <summary>
/// FLARE's NER scoring: PIXIU's process_text, then seqeval's f1_score. Each generated line (split on "\n")
/// is split on ", "; the last piece is the type (any string, as written), the rest joined back is the entity,
/// searched as a substring of the row's text (non-overlapping occurrences, left to right). An occurrence tags
/// B- on the first word that starts at or after it and I- on the following words that start inside it; all
/// else is O. Offsets count Unicode code points and words split on Python's whitespace, as PIXIU's Python does.
/// The entity F1 is seqeval's default (conlleval chunking, micro-averaged over types, all rows concatenated).
/// </summary>
public static class NerScoring
{
    /// <summary>BIO tags for <paramref name="text"/>'s whitespace words from "entity, TYPE" lines.</summary>
    public static string[] Tags(string output, string text, NerTagging tagging)
    {
        var chars = CodePoints(text);
        var (realStarts, lengths) = Words(chars);
        int n = realStarts.Count;
        var starts = tagging == NerTagging.Lenient ? realStarts : PixiuStarts(lengths);
        var tags = Enumerable.Repeat("O", n).ToArray();
        foreach (var line in output.Split('\n'))
        {
            var pieces = line.Split(", ");
            var type = pieces[^1];
            var entity = CodePoints(string.Join(", ", pieces[..^1]));
            if (entity.Length == 0) continue;
            for (int at = IndexOf(chars, entity, 0); at >= 0; at = IndexOf(chars, entity, at + entity.Length))
            {
                int last = at + entity.Length - 1;
                int first = starts.FindIndex(s => s >= at);
                int next = starts.FindIndex(s => s > last);
                if (first < 0) continue;   // starts inside the last word: nothing to tag, in both variants
                if (next < 0)
                {
                    if (tagging == NerTagging.Pixiu) continue;   // PIXIU's next() raises here; the occurrence is dropped
                    next = n;
                }
                tags[first] = "B-" + type;
                for (int i = first + 1; i < next; i++) tags[i] = "I-" + type;
            }
        }
        return tags;
    }

    /// <summary>PIXIU's word starts: the first word at 0, each next one a word length plus one separator further.</summary>
    private static List<int> PixiuStarts(List<int> lengths)
    {
        var starts = new List<int>(lengths.Count);
        for (int i = 0, at = 0; i < lengths.Count; at += lengths[i] + 1, i++) starts.Add(at);
        return starts;
    }

    /// <summary>The words of Python's str.split() (whitespace runs separate, none at the ends): code-point starts and lengths.</summary>
    private static (List<int> Starts, List<int> Lengths) Words(int[] text)
    {
        var starts = new List<int>();
        var lengths = new List<int>();
        for (int i = 0; i < text.Length;)
        {
            if (IsPythonSpace(text[i])) { i++; continue; }
            int j = i;
            while (j < text.Length && !IsPythonSpace(text[j])) j++;
            starts.Add(i);
            lengths.Add(j - i);
            i = j;
        }
        return (starts, lengths);
    }

    /// <summary>Python's str.isspace for one code point: .NET's white space plus the separators U+001C..U+001F.</summary>
    private static bool IsPythonSpace(int c) => c is >= 0x1C and <= 0x1F || Rune.IsWhiteSpace(new Rune(c));

    private static int[] CodePoints(string s)
    {
        var result = new List<int>(s.Length);
        foreach (var r in s.EnumerateRunes()) result.Add(r.Value);
        return result.ToArray();
    }

    private static int IndexOf(int[] text, int[] part, int from)
    {
        for (int i = Math.Max(0, from); i + part.Length <= text.Length; i++)
        {
            int k = 0;
            while (k < part.Length && text[i + k] == part[k]) k++;
            if (k == part.Length) return i;
        }
        return -1;
    }

    /// <summary>
    /// seqeval's entities (default mode, no scheme) of rows of tags, the rows concatenated with an "O" after each:
    /// (type, first, last) over the concatenation. A tag's first character is its prefix (B, I, E, S, O, ...), the
    /// rest after the first '-' its type ("_" when empty), and chunks open and close by conlleval's rules.
    /// </summary>
    public static List<(string Type, int Start, int End)> Entities(IEnumerable<IReadOnlyList<string>> rows)
    {
        var seq = rows.SelectMany(r => r.Append("O")).Append("O").ToList();
        var chunks = new List<(string, int, int)>();
        char prevTag = 'O';
        string prevType = "";
        int begin = 0;
        for (int i = 0; i < seq.Count; i++)
        {
            var (tag, type) = Split(seq[i]);
            if (EndsChunk(prevTag, tag, prevType, type)) chunks.Add((prevType, begin, i - 1));
            if (StartsChunk(prevTag, tag, prevType, type)) begin = i;
            prevTag = tag;
            prevType = type;
        }
        return chunks;
    }

    private static (char Tag, string Type) Split(string chunk)
    {
        if (chunk.Length == 0) return ('O', "_");
        var rest = chunk[1..];
        int dash = rest.IndexOf('-');
        var type = dash < 0 ? rest : rest[(dash + 1)..];
        return (chunk[0], type.Length == 0 ? "_" : type);
    }

    private static bool EndsChunk(char prev, char tag, string prevType, string type) =>
        prev is 'E' or 'S'
        || prev is 'B' or 'I' && tag is 'B' or 'S' or 'O'
        || prev != 'O' && prev != '.' && prevType != type;

    private static bool StartsChunk(char prev, char tag, string prevType, string type) =>
        tag is 'B' or 'S'
        || prev is 'E' or 'S' or 'O' && tag is 'E' or 'I'
        || tag != 'O' && tag != '.' && prevType != type;

    /// <summary>seqeval's f1_score (micro): entities as (type, start, end) sets per type, over all rows at once.</summary>
    public static double EntityF1(IReadOnlyList<IReadOnlyList<string>> gold, IReadOnlyList<IReadOnlyList<string>> pred)
    {
        if (gold.Count != pred.Count) throw new ArgumentException($"{gold.Count} gold rows but {pred.Count} predicted rows");
        for (int i = 0; i < gold.Count; i++)
            if (gold[i].Count != pred[i].Count)   // seqeval refuses this too: the concatenated offsets would shift
                throw new FinQLoraException($"NER row {i + 1}: its label has {gold[i].Count} tags but its text has {pred[i].Count} words; " +
                    "the row's \"label\" must have one tag per whitespace-separated word of \"text\"");
        var g = Entities(gold).ToHashSet();
        var p = Entities(pred).ToHashSet();
        int tp = p.Count(g.Contains);
        double precision = p.Count == 0 ? 0 : tp / (double)p.Count;
        double recall = g.Count == 0 ? 0 : tp / (double)g.Count;
        return precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
    }
}
