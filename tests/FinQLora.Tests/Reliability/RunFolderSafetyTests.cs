using FinQLora.Runs;
using FinQLora.Tests.Cli;
using FinQLora.Training;

namespace FinQLora.Tests.Reliability;

/// <summary>`finqlora train` and `finqlora curriculum` never write over an earlier run, or over files FinQLora did not make.</summary>
public class RunFolderSafetyTests
{
    private static readonly Dictionary<string, string> NoEnv = [];

    /// <summary>A finished-looking earlier run: the marker and a metrics file.</summary>
    private static string EarlierRun()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "earlier");
        RunFolder.Prepare(dir, RunFolder.Mode.New);
        File.WriteAllText(Path.Combine(dir, "metrics.jsonl"), "{\"kind\":\"train\",\"step\":1}\n");
        return dir;
    }

    [Theory]
    [InlineData("train", "configs/stage1.yaml")]
    [InlineData("curriculum", "configs/quickstart.yaml")]
    public void A_run_refuses_the_folder_of_an_earlier_run_without_overwrite(string command, string config)
    {
        var dir = EarlierRun();
        var r = CliProcess.RunIn(CliProcess.RepoRoot(), NoEnv, command, "--config", config, "--set", $"output={dir}");
        Assert.True(r.ExitCode == RunFolder.ExitCode, $"exit code {r.ExitCode}\n{r.Stderr}");
        Assert.Contains($"error: the output folder {dir} already holds a run: pass --resume to continue it, --overwrite to replace it, or choose another folder", r.Stderr);
        Assert.Equal("{\"kind\":\"train\",\"step\":1}\n", File.ReadAllText(Path.Combine(dir, "metrics.jsonl")));
        Assert.Equal([".finqlora-run", "metrics.jsonl"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("train", "configs/stage1.yaml")]
    [InlineData("curriculum", "configs/quickstart.yaml")]
    public void Overwrite_refuses_a_folder_that_finqlora_did_not_make(string command, string config)
    {
        var dir = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(dir, "thesis.tex"), "precious");
        var r = CliProcess.RunIn(CliProcess.RepoRoot(), NoEnv, command, "--config", config, "--set", $"output={dir}", "--overwrite");
        Assert.True(r.ExitCode == RunFolder.ExitCode, $"exit code {r.ExitCode}\n{r.Stderr}");
        Assert.Contains($"--overwrite: {dir} holds files but is not a FinQLora run folder (no .finqlora-run), so it is not deleted", r.Stderr);
        Assert.Equal(["thesis.tex"], Directory.GetFileSystemEntries(dir).Select(Path.GetFileName));
    }
}
