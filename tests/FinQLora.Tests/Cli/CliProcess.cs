using System.Diagnostics;

namespace FinQLora.Tests.Cli;

/// <summary>Runs the real `finqlora` program (built beside the tests) as a child process.</summary>
internal static class CliProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs with extra environment variables (e.g. HF_ENDPOINT for a local Hub).</summary>
    public static Result RunWith(IReadOnlyDictionary<string, string> env, params string[] args) => RunIn(null, env, args);

    /// <summary>Runs in <paramref name="workingDirectory"/> (e.g. the repository root, as the README's commands do).</summary>
    public static Result RunIn(string? workingDirectory, IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "finqlora.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["FINQLORA_HOME"] = Path.Combine(Path.GetTempPath(), "finqlora-tests-home");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException($"finqlora {string.Join(' ', args)} did not finish"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The repository root (the folder with FinQLora.slnx above the test binaries).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FinQLora.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("FinQLora.slnx not found above " + AppContext.BaseDirectory);
    }
}
