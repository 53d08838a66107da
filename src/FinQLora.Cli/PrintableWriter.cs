using System.Text;

namespace FinQLora.Cli;

/// <summary>
/// Everything the CLI prints goes through this writer (Console.Out and Console.Error are replaced at start),
/// so text that came from an input — file names, bad-row text, model names, config values — cannot move the
/// cursor, recolour or retitle the terminal: control characters other than line break and tab are shown as
/// <c>\uXXXX</c>. One mechanism for every line, not an escape call at each print. Spectre's own drawing
/// (progress bars, tables) goes to the original stream; the text handed to it is escaped with <see cref="Escape"/>.
/// </summary>
internal sealed class PrintableWriter(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;
    public override IFormatProvider FormatProvider => inner.FormatProvider;

    public static bool IsUnsafe(char c) => Printable.IsUnsafe(c);

    /// <summary>The text with every unsafe control character as \uXXXX (<see cref="Printable.Escape"/>).</summary>
    public static string Escape(string? text) => Printable.Escape(text);

    public override void Write(char value)
    {
        if (IsUnsafe(value)) inner.Write($"\\u{(int)value:x4}");
        else inner.Write(value);
    }

    public override void Write(string? value) => inner.Write(Escape(value));
    public override void Write(char[] buffer, int index, int count) => inner.Write(Escape(new string(buffer, index, count)));
    public override void WriteLine(string? value) => inner.WriteLine(Escape(value));
    public override void WriteLine() => inner.WriteLine();
    public override void Flush() => inner.Flush();

    /// <summary>Routes Console.Out and Console.Error through the writer; Spectre keeps the raw stdout for its own escapes.</summary>
    public static void Install()
    {
        var stdout = Console.Out;
        var stderr = Console.Error;
        Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings { Out = new Spectre.Console.AnsiConsoleOutput(stdout) });
        Console.SetOut(Synchronized(new PrintableWriter(stdout)));
        Console.SetError(Synchronized(new PrintableWriter(stderr)));
    }
}
