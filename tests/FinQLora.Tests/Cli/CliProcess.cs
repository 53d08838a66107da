using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;

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
        using var p = Process.Start(StartInfo(workingDirectory, env, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(10))) { p.Kill(true); throw new TimeoutException($"finqlora {string.Join(' ', args)} did not finish"); }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Starts the program and hands back a handle that sees its output lines as they come (to kill it at a chosen moment).</summary>
    public static Running Start(IReadOnlyDictionary<string, string> env, params string[] args) => new(StartInfo(null, env, args));

    private static ProcessStartInfo StartInfo(string? workingDirectory, IReadOnlyDictionary<string, string> env, string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "finqlora.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["FINQLORA_HOME"] = Path.Combine(Path.GetTempPath(), "finqlora-tests-home");
        foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    /// <summary>A running `finqlora`: its stdout and stderr lines, merged in arrival order.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly BlockingCollection<string> _lines = [];
        private readonly StringBuilder _all = new();
        private int _openStreams = 2;

        public Running(ProcessStartInfo psi)
        {
            _process = new Process { StartInfo = psi };
            _process.OutputDataReceived += (_, e) => OnLine(e.Data);
            _process.ErrorDataReceived += (_, e) => OnLine(e.Data);
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        private void OnLine(string? line)
        {
            if (line is null)
            {
                if (Interlocked.Decrement(ref _openStreams) == 0) _lines.CompleteAdding();
                return;
            }
            lock (_all) _all.AppendLine(line);
            try { _lines.Add(line); }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException) { }  // nobody is waiting any more
        }

        /// <summary>Waits for the next line that matches; null when the program ended (or <paramref name="timeout"/> passed) first.</summary>
        public string? WaitForLine(Func<string, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                if (!_lines.TryTake(out var line, TimeSpan.FromMilliseconds(100)))
                {
                    if (_lines.IsCompleted) return null;
                    continue;
                }
                if (match(line)) return line;
            }
            return null;
        }

        /// <summary>SIGKILL on Linux: the program gets no chance to clean up.</summary>
        public void Kill()
        {
            try { _process.Kill(entireProcessTree: true); }
            catch (InvalidOperationException) { }  // already gone
        }

        /// <summary>Waits for the end; the exit code (137 = 128 + SIGKILL) and everything it printed so far.</summary>
        public (int ExitCode, string Output) WaitForExit(TimeSpan timeout)
        {
            if (!_process.WaitForExit(timeout)) { Kill(); throw new TimeoutException($"{_process.StartInfo.ArgumentList[1]} did not finish in {timeout}"); }
            _process.WaitForExit();  // drains the output events
            lock (_all) return (_process.ExitCode, _all.ToString());
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
            _lines.Dispose();
        }
    }

    /// <summary>The repository root (the folder with FinQLora.slnx above the test binaries).</summary>
    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "FinQLora.slnx"))) return dir.FullName;
        throw new DirectoryNotFoundException("FinQLora.slnx not found above " + AppContext.BaseDirectory);
    }
}
