using System.Diagnostics;

namespace FinQLora.Tests.Packaging;

/// <summary>Runs a program (dotnet, an installed tool) as a child process and keeps what it printed.</summary>
internal static class Shell
{
    public sealed record Result(string Command, int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>This result, or a failed assertion with the command and the end of its output.</summary>
        public Result Succeeded()
        {
            var tail = (Stdout + Stderr)[^Math.Min(4000, Stdout.Length + Stderr.Length)..];
            Assert.True(ExitCode == 0, $"`{Command}` exited {ExitCode}:\n{tail}");
            return this;
        }
    }

    public static Result Dotnet(string workingDirectory, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? env = null) =>
        Run("dotnet", workingDirectory, args, env);

    public static Result Run(string program, string workingDirectory, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? env = null)
    {
        var psi = new ProcessStartInfo(program) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment.Remove("FINQLORA_HOME");   // set by other tests' helpers only for their child processes; never here
        foreach (var (k, v) in env ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var command = $"{program} {string.Join(' ', args)}";
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException($"`{command}` did not finish in 10 minutes"); }
        return new Result(command, p.ExitCode, stdout.Result, stderr.Result);
    }
}
