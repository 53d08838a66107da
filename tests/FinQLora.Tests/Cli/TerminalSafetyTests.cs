using CsCheck;

namespace FinQLora.Tests.Cli;

/// <summary>
/// Nothing from an input reaches the terminal as a control sequence: file names and row text with escape
/// sequences, carriage returns, bells or NULs print as \uXXXX on every line (log lines, not only errors);
/// libtorch's C++ frames are printed only with --verbose.
/// </summary>
public sealed class TerminalSafetyTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private static bool Unsafe(char c) => char.IsControl(c) && c is not ('\n' or '\t');

    [Fact]
    public void Control_characters_in_file_names_and_rows_never_reach_the_terminal_raw()
    {
        string[] hostile = ["\u001b[2J\u001b[H", "\u001b]0;owned\u0007", "\r", "\u009b31m", "\u0008\u0008", "\u001b[31m"];
        int n = 0;
        Gen.Select(Gen.Int[0, hostile.Length - 1], Gen.Int[0, hostile.Length - 1]).Sample((a, b) =>
        {
            var source = Path.Combine(_dir, $"s{++n}");
            Directory.CreateDirectory(source);
            var samples = Path.Combine(AppContext.BaseDirectory, "samples", "fpb", "test.jsonl");
            var lines = File.ReadAllLines(samples).Take(4).ToList();
            lines.Insert(2, "not json " + hostile[b]);   // a bad row, skipped and reported
            File.WriteAllLines(Path.Combine(source, $"fpb-test-{hostile[a]}.jsonl"), lines);
            var r = CliProcess.Run("prepare-data", "--source", source, "--output", Path.Combine(_dir, $"o{n}"), "--tasks", "fpb", "--offline", "--skip-bad-rows");
            Assert.Equal(0, r.ExitCode);
            Assert.DoesNotContain(r.Stdout + r.Stderr, Unsafe);
            // the same file as a failing read (no --skip-bad-rows): the error line is escaped too
            var e = CliProcess.Run("prepare-data", "--source", source, "--output", Path.Combine(_dir, $"e{n}"), "--tasks", "fpb", "--offline");
            Assert.Equal(1, e.ExitCode);
            Assert.DoesNotContain(e.Stdout + e.Stderr, Unsafe);
            Assert.Contains("--skip-bad-rows", e.Stderr);
        }, iter: 3, threads: 1);
    }

    [Fact]
    public void Native_frames_are_cut_without_verbose()
    {
        var native = "index out of range in self\nException raised from operator() at /pytorch/aten/src/ATen/native/TensorAdvancedIndexing.cpp:1234 (most recent call first):\n" +
                     string.Concat(Enumerable.Range(0, 15).Select(i => $"frame #{i}: at::native::index_select_out_cpu_ + 0x{i:x}\n"));
        var stderr = new StringWriter();
        var old = Console.Error;
        Console.SetError(stderr);
        try { FinQLora.Cli.CliRunner.Report(new System.Runtime.InteropServices.ExternalException(native), verbose: false); }
        finally { Console.SetError(old); }
        var printed = stderr.ToString();
        Assert.StartsWith("error: index out of range in self", printed);
        Assert.DoesNotContain("frame #", printed);
        Assert.DoesNotContain("Exception raised from", printed);
    }
}
