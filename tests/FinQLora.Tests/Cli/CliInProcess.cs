using FinQLora.Cli;

namespace FinQLora.Tests.Cli;

/// <summary>
/// Runs `finqlora` in this process (<see cref="CliApp"/>) with its console output captured: the same result as
/// <see cref="CliProcess"/> without starting a program. The console is the process's, so the tests that use it run
/// in <see cref="ConsoleCollection"/>, alone.
/// </summary>
internal static class CliInProcess
{
    public static CliProcess.Result Run(params string[] args)
    {
        var (stdout, stderr) = (Console.Out, Console.Error);
        using var capturedOut = new StringWriter();
        using var capturedErr = new StringWriter();
        Console.SetOut(capturedOut);
        Console.SetError(capturedErr);
        try
        {
            int code = CliApp.Run(args);
            return new CliProcess.Result(code, capturedOut.ToString(), capturedErr.ToString());
        }
        finally
        {
            Console.SetOut(stdout);
            Console.SetError(stderr);
        }
    }
}

/// <summary>Tests that capture the process's console run alone: another test's output would land in theirs.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "process console";
}
