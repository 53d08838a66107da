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
        Console.Error.WriteLine($"error: {Printable(verbose || inner is FinQLoraException ? inner.Message : NativeFramesCut(inner.Message))}");
        if (verbose) Console.Error.WriteLine(inner);
        else if (inner is not FinQLoraException) Console.Error.WriteLine("(run with --verbose for details)");
        return inner is FinQLoraException fe ? fe.ExitCode : 1;
    }

    /// <summary>
    /// Messages quote names and values from input files; their control characters (escape sequences, carriage
    /// returns) are shown as \uXXXX so a crafted file cannot rewrite the terminal. Line breaks stay.
    /// </summary>
    public static string Printable(string message) => PrintableWriter.Escape(message);

    /// <summary>
    /// libtorch's errors carry the C++ frames under the message ("Exception raised from … frame #0: …", 13-23
    /// lines); without --verbose only the message itself is printed.
    /// </summary>
    public static string NativeFramesCut(string message)
    {
        var lines = message.Split('\n');
        var kept = lines.TakeWhile(l => !l.StartsWith("Exception raised from", StringComparison.Ordinal) && !l.TrimStart().StartsWith("frame #", StringComparison.Ordinal))
                        .Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
        return kept.Count == 0 ? lines[0] : string.Join(" ", kept);
    }
}
