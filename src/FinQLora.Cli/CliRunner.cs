using System.CommandLine;

namespace FinQLora.Cli;

/// <summary>
/// Runs the parsed command; turns errors into one clear line on stderr and a non-zero exit code
/// (the stack trace only with --verbose).
/// </summary>
internal static class CliRunner
{
    public static int Invoke(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        bool verbose = parse.GetValue(CliOptions.Verbose);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            Console.Error.WriteLine($"error: {ParseErrors.Describe(parse)}");
            return ParseErrors.ExitCode;
        }
        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            return Report(e, verbose);
        }
    }

    public static int Report(Exception e, bool verbose)
    {
        var inner = e is System.Reflection.TargetInvocationException { InnerException: { } ie } ? ie : e;
        if (inner is not FinQLoraException && FinQLora.IO.DiskFullException.Is(inner))  // e.g. a log line appended to a full disk
            inner = new FinQLora.IO.DiskFullException($"the disk is full: {inner.Message}. Free space or choose another output folder", "", null, inner);
        Console.Error.WriteLine($"error: {Printable(inner.Message)}");
        if (verbose) Console.Error.WriteLine(inner);
        else if (inner is not FinQLoraException) Console.Error.WriteLine("(run with --verbose for details)");
        return inner is FinQLoraException fe ? fe.ExitCode : 1;
    }

    /// <summary>
    /// Messages quote names and values from input files; their control characters (escape sequences, carriage
    /// returns) are shown as \uXXXX so a crafted file cannot rewrite the terminal. Line breaks stay.
    /// </summary>
    public static string Printable(string message) =>
        string.Concat(message.Select(c => char.IsControl(c) && c != '\n' ? $"\\u{(int)c:x4}" : c.ToString()));
}
