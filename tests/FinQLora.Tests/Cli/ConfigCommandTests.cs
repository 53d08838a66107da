using FinQLora.Tests.Config;

namespace FinQLora.Tests.Cli;

public class ConfigCommandTests
{
    [Fact]
    public void Prints_the_resolved_curriculum_and_reports_a_bad_override_with_exit_code_2()
    {
        var ok = CliProcess.Run("config", "--config", RepoFiles.Path("configs", "curriculum.yaml"), "--set", "stages.1.lora.r=8");
        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("init_adapter: runs/curriculum/stage1/adapter", ok.Stdout);
        Assert.Contains("  r: 8", ok.Stdout);

        var bad = CliProcess.Run("config", "--config", RepoFiles.Path("configs", "stage1.yaml"), "--set", "lora.r=0");
        Assert.Equal(2, bad.ExitCode);
        Assert.EndsWith("stage1.yaml: lora.r must be > 0, got 0", bad.Stderr.Trim());
    }
}
