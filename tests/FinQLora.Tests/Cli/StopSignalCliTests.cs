using System.Diagnostics;
using System.Runtime.InteropServices;
using FinQLora.Config;
using FinQLora.Tests.Training;

namespace FinQLora.Tests.Cli;

/// <summary>SIGINT to a real `finqlora train` process: the step finishes, a checkpoint is written, exit 0.</summary>
[Trait("Category", "Slow")]
public partial class StopSignalCliTests
{
    [LibraryImport("libc", EntryPoint = "signal")] private static partial IntPtr Signal(int sig, IntPtr handler);
    [LibraryImport("libc", EntryPoint = "kill")] private static partial int Kill(int pid, int sig);

    /// <summary>
    /// A process started in the background by a non-interactive shell ignores SIGINT, and its children
    /// inherit that (the test host may be one): reset it so the child sees the signal, as from a terminal.
    /// </summary>
    private static void UnignoreSigint()
    {
        const int SIGINT = 2;
        IntPtr ignore = 1, previous = Signal(SIGINT, 0);   // SIG_IGN = 1, SIG_DFL = 0
        if (previous != ignore) Signal(SIGINT, previous);
    }

    [Fact]
    public void A_sigint_delivered_twice_at_once_still_stops_gracefully()
    {
        // `timeout -s INT` signals the child and then its process group: one request arrives twice (seen on the GPU machine)
        UnignoreSigint();
        var root = Fixtures.TempDir();
        var output = Path.Combine(root, "run");
        var config = Path.Combine(root, "train.yaml");
        var stage = TrainerTests.SmallStage(output, steps: 10_000);
        // steps long enough (about a second) that the second signal lands while the first one's step is still running
        ConfigWriter.Write(config, stage with { Training = stage.Training with { BatchSize = 4, GradAccum = 6 } });
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "finqlora.dll"));
        foreach (var a in new[] { "train", "--config", config, "--set", "model.quantize=none" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var text = new System.Text.StringBuilder();
        void Append(object? _, DataReceivedEventArgs e) { if (e.Data is not null) lock (text) text.AppendLine(e.Data); }
        p.OutputDataReceived += Append;
        p.ErrorDataReceived += Append;
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var metrics = Path.Combine(output, "metrics.jsonl");
        var clock = Stopwatch.StartNew();
        while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 2) && clock.Elapsed < TimeSpan.FromMinutes(2) && !p.HasExited) Thread.Sleep(100);
        Assert.False(p.HasExited, "the run ended before it could be signalled: " + text);
        Assert.Equal(0, Kill(p.Id, 2));   // SIGINT, twice in quick succession (a pending signal absorbs one sent at once)
        Thread.Sleep(300);
        Assert.True(Kill(p.Id, 2) == 0 || p.HasExited, "the second SIGINT could not be sent");
        bool stopped = p.WaitForExit(TimeSpan.FromMinutes(2));
        if (!stopped) p.Kill(true);
        Assert.True(stopped, "the run did not stop");
        p.WaitForExit();   // drains the output events
        var all = text.ToString();
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {all}");
        Assert.Contains("stopped at step", all);
        Assert.Contains("--resume", all);
        Assert.NotEmpty(Directory.GetDirectories(Path.Combine(output, "checkpoints"), "step-*"));
    }
}
