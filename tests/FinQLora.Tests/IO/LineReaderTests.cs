using System.Text;
using FinQLora.IO;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.IO;

public class LineReaderTests
{
    private static string Write(byte[] bytes)
    {
        var path = Path.Combine(Fixtures.TempDir(), "lines.txt");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string Write(string text) => Write(Encoding.UTF8.GetBytes(text));

    [Theory]
    [InlineData("", new string[0])]
    [InlineData("\n", new[] { "" })]
    [InlineData("a", new[] { "a" })]
    [InlineData("a\n", new[] { "a" })]
    [InlineData("a\nb\r\nc\rd", new[] { "a", "b", "c", "d" })]
    [InlineData("a\r\n\r\n\nb\n", new[] { "a", "", "", "b" })]
    [InlineData("\uFEFFé\u00a0x\n", new[] { "é\u00a0x" })]
    public void Lines_split_as_StreamReader_ReadLine_splits_them_numbered_from_one(string text, string[] expected)
    {
        var lines = LineReader.Read(Write(text)).ToList();
        Assert.Equal(expected, lines.Select(l => l.Text));
        Assert.Equal(Enumerable.Range(1, expected.Length), lines.Select(l => l.Number));
    }

    [Fact]
    public void A_crlf_split_by_the_64K_read_buffer_is_one_line_end()
    {
        // the \r is the last character of the first 64 Ki-character block, the \n the first of the next
        var first = new string('x', (64 << 10) - 1);
        var lines = LineReader.Read(Write(first + "\r\nsecond\n")).Select(l => l.Text).ToList();
        Assert.Equal([first, "second"], lines);
    }

    [Fact]
    public void A_line_over_the_cap_is_refused_naming_file_line_and_the_limit()
    {
        var path = Write("short\n" + new string('y', 1001) + "\nnever reached\n");
        var lines = new List<string>();
        var e = Assert.Throws<FinQLoraException>(() => { foreach (var (_, text) in LineReader.Read(path, maxChars: 1000)) lines.Add(text); });
        Assert.Equal($"{path}:2: a line over 1,000 characters (not JSON Lines, or corrupt)", e.Message);
        Assert.Equal(["short"], lines);
        Assert.Equal(["short", new string('y', 1000)], LineReader.Read(Write("short\n" + new string('y', 1000)), maxChars: 1000).Select(l => l.Text));
    }

    [Fact]
    public void A_file_without_newlines_costs_the_cap_not_its_size()
    {
        // 64 MB in one line: File.ReadLines would hold all of it (128 MB of UTF-16, more while growing)
        var path = Fixtures.OneLongLine(Path.Combine(Fixtures.TempDir(), "one.jsonl"), 64L << 20, "{\"id\":\"");
        var (e, allocated) = Fixtures.ThrowsAllocating(() => LineReader.Read(path).ToList());
        Assert.Equal($"{path}:1: a line over 16,777,216 characters (not JSON Lines, or corrupt)", e.Message);
        Assert.True(allocated < 96L << 20, $"{allocated:N0} bytes allocated");
    }

    [Fact]
    public void Invalid_utf8_names_the_line_when_strict_and_reads_as_replacement_characters_when_not()
    {
        var path = Write([(byte)'o', (byte)'k', (byte)'\n', (byte)'a', 0xC3, (byte)'\n']);   // 0xC3 starts a 2-byte sequence that never ends
        var e = Assert.Throws<FinQLoraException>(() => LineReader.Read(path).ToList());
        Assert.Equal($"{path}:2: invalid UTF-8", e.Message);
        Assert.Equal(["ok", "a\uFFFD"], LineReader.Read(path, strictUtf8: false).Select(l => l.Text));
    }

    [Fact]
    public void No_source_file_reads_lines_without_the_cap()
    {
        // File.ReadLines / StreamReader.ReadLine hold a whole line however long; inputs go through LineReader.
        // Allowed: files of this machine (LibTorchInfo: /proc/self/maps, torch's version.py).
        var src = Path.Combine(CliProcess.RepoRoot(), "src");
        var hits = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Path.GetFileName(f) is not "LibTorchInfo.cs")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => x.line.Contains("File.ReadLines(", StringComparison.Ordinal) || x.line.Contains("File.ReadAllLines(", StringComparison.Ordinal))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.Empty(hits);
    }
}
