using System.Text;

namespace FinQLora;

/// <summary>
/// Text from an input (file names, bad-row text, model names, config values) made safe for a terminal: control
/// characters other than line break and tab are shown as <c>\uXXXX</c>, so they cannot move the cursor, recolour or
/// retitle it. The CLI's writer applies it to every printed line; the live progress display to what it draws.
/// </summary>
public static class Printable
{
    public static bool IsUnsafe(char c) => char.IsControl(c) && c is not ('\n' or '\t');

    /// <summary>The text with every unsafe control character (<see cref="IsUnsafe"/>) as \uXXXX.</summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(IsUnsafe)) return text ?? "";
        var sb = new StringBuilder(text.Length + 16);
        foreach (var c in text)
            if (IsUnsafe(c)) sb.Append($"\\u{(int)c:x4}"); else sb.Append(c);
        return sb.ToString();
    }
}
