using FinQLora.Text;

namespace FinQLora.Serving;

/// <summary>
/// Turns a stream of token ids into text pieces that are safe to send: a piece never ends inside a UTF-8
/// character that the next token completes (the decoded text would end in U+FFFD), and text that could be
/// the start of a stop sequence is held back until it is known not to be one. When a stop sequence
/// appears, the text before it is the last piece.
/// </summary>
public sealed class TextAssembler(LlamaTokenizer tokenizer, IReadOnlyList<string> stopSequences)
{
    private readonly List<int> _ids = [];
    private int _sent;   // characters of the decoded text already handed out

    public bool Stopped { get; private set; }

    /// <summary>All text handed out so far.</summary>
    public string Text { get; private set; } = "";

    /// <summary>Adds a token; returns the text that may be sent now (often empty). After a stop sequence, <see cref="Stopped"/> is true.</summary>
    public string Add(int token)
    {
        if (Stopped) return "";
        _ids.Add(token);
        var decoded = tokenizer.Decode(_ids, skipSpecialTokens: true);
        int stopAt = FirstStop(decoded);
        if (stopAt >= 0)
        {
            Stopped = true;
            return Take(decoded, stopAt);
        }
        if (decoded.EndsWith('\uFFFD')) return "";   // a character split across tokens: wait for its end
        return Take(decoded, decoded.Length - HeldBack(decoded));
    }

    /// <summary>At the end of generation: whatever was held back (a partial stop sequence that never completed).</summary>
    public string Flush() => Stopped ? "" : Take(tokenizer.Decode(_ids, skipSpecialTokens: true), int.MaxValue);

    private string Take(string decoded, int end)
    {
        end = Math.Min(end, decoded.Length);
        if (end <= _sent) return "";
        var piece = decoded[_sent..end];
        _sent = end;
        Text += piece;
        return piece;
    }

    private int FirstStop(string decoded)
    {
        int best = -1;
        int from = Math.Max(0, _sent - stopSequences.Select(s => s.Length).DefaultIfEmpty(0).Max());
        foreach (var s in stopSequences)
        {
            int i = decoded.IndexOf(s, from, StringComparison.Ordinal);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    /// <summary>Length of the longest tail of <paramref name="decoded"/> that begins some stop sequence.</summary>
    private int HeldBack(string decoded)
    {
        int held = 0;
        foreach (var s in stopSequences)
            for (int k = Math.Min(s.Length - 1, decoded.Length); k > held; k--)
                if (decoded.AsSpan(decoded.Length - k).SequenceEqual(s.AsSpan(0, k))) { held = k; break; }
        return held;
    }
}
