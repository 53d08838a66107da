using System.Text;

namespace FinQLora.IO;

/// <summary>
/// Reads a text file line by line without ever holding more than <c>maxChars</c> characters of one line:
/// a longer line stops the read with a <see cref="FinQLoraException"/> naming <c>file:line</c> and the limit,
/// as soon as the limit is passed (the rest of the line is never read). <c>File.ReadLines</c>
/// holds a whole line however long it is: a 200 MB file without a newline costs gigabytes, and a line
/// over 1 G characters ends in an untyped OutOfMemoryException. Line ends are <c>\n</c>, <c>\r\n</c> or
/// <c>\r</c>, as in <see cref="StreamReader.ReadLine"/>; a UTF-8 byte-order mark is skipped.
/// </summary>
public static class LineReader
{
    /// <summary>The default cap: far above any JSON Lines row FinQLora reads (FLARE's longest, FinQA tables, are under 64 KiB).</summary>
    public const int MaxChars = 16 << 20;

    /// <summary>
    /// The lines of <paramref name="path"/>, numbered from 1 (blank lines included). With
    /// <paramref name="strictUtf8"/>, bytes that are not UTF-8 are an error naming file:line; without it
    /// they read as U+FFFD (for logs whose last line a killed process may have cut inside a character).
    /// </summary>
    public static IEnumerable<(int Number, string Text)> Read(string path, int maxChars = MaxChars, bool strictUtf8 = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxChars);
        // Split on the bytes \n and \r (never part of a multi-byte UTF-8 sequence) and decode each line's bytes on
        // their own: a decoding error then names the line it is in.
        using var stream = InputFile.OpenRead(path, bufferSize: 1);
        var decoder = new UTF8Encoding(false, throwOnInvalidBytes: strictUtf8).GetDecoder();
        var bytes = new byte[64 << 10];
        var chars = new char[bytes.Length + 4];
        var line = new StringBuilder();
        int number = 0;
        bool pending = false, skipLf = false, start = true;
        void Append(ReadOnlySpan<byte> part, bool flush)
        {
            int n;
            try { n = decoder.GetChars(part, chars, flush); }
            catch (DecoderFallbackException) { throw new FinQLoraException($"{path}:{number + 1}: invalid UTF-8"); }
            if (line.Length + n > maxChars) throw new FinQLoraException($"{path}:{number + 1}: a line over {maxChars:N0} characters (not JSON Lines, or corrupt)");
            line.Append(chars, 0, n);
        }
        for (int read; (read = stream.Read(bytes)) > 0;)
        {
            int pos = start && read >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF ? 3 : 0;   // a byte-order mark
            start = false;
            while (pos < read)
            {
                if (skipLf && bytes[pos] == (byte)'\n') pos++;   // the \n of a \r\n
                skipLf = false;
                if (pos == read) break;
                int end = bytes.AsSpan(pos, read - pos).IndexOfAny((byte)'\n', (byte)'\r');
                if (end < 0)
                {
                    Append(bytes.AsSpan(pos, read - pos), flush: false);
                    pending = true;
                    break;
                }
                Append(bytes.AsSpan(pos, end), flush: true);
                skipLf = bytes[pos + end] == (byte)'\r';
                pos += end + 1;
                pending = false;
                yield return (++number, line.ToString());
                line.Clear();
            }
        }
        if (!pending) yield break;   // the file ended at a line end (or is empty)
        Append([], flush: true);
        yield return (++number, line.ToString());
    }
}
