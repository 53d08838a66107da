namespace FinQLora.Config;

/// <summary>"(did you mean 'lora.r'?)" for a misspelt key, by edit distance.</summary>
public static class DidYouMean
{
    public static string Suggest(string key, IEnumerable<string> known, string prefix = "")
    {
        var best = known.Select(k => (k, d: Distance(key.ToLowerInvariant(), k)))
            .Where(x => x.d <= Math.Max(2, x.k.Length / 3)).OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal).FirstOrDefault();
        return best.k is null
            ? $"; known keys here: {string.Join(", ", known)}"
            : $" (did you mean '{prefix}{best.k}'?)";
    }

    /// <summary>Levenshtein distance (insert, delete, substitute cost 1).</summary>
    public static int Distance(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
