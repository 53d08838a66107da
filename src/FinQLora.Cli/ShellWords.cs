using System.Text;

namespace FinQLora.Cli;

/// <summary>
/// Command lines as a POSIX shell reads them: words joined with single quotes where needed (so a printed
/// resume hint can be pasted), and split back (to resume a run from the command its folder records).
/// </summary>
internal static class ShellWords
{
    public static string Join(IEnumerable<string> words) => string.Join(' ', words.Select(Quote));

    public static string Quote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "-_./=:,@+%".Contains(c)) ? word : "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>Splits a line written by <see cref="Join"/> (single quotes, and the '\'' escape inside them).</summary>
    public static List<string> Split(string line)
    {
        var words = new List<string>();
        var current = new StringBuilder();
        bool inWord = false, quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted)
            {
                if (c == '\'') quoted = false;
                else current.Append(c);
            }
            else if (c == '\'') { quoted = true; inWord = true; }
            else if (c == '\\' && i + 1 < line.Length) { current.Append(line[++i]); inWord = true; }
            else if (c == ' ')
            {
                if (inWord) words.Add(current.ToString());
                current.Clear();
                inWord = false;
            }
            else { current.Append(c); inWord = true; }
        }
        if (quoted) throw new FormatException("an unclosed quote");
        if (inWord) words.Add(current.ToString());
        return words;
    }
}
