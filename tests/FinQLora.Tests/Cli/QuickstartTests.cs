using System.Text.Json.Nodes;

namespace FinQLora.Tests.Cli;

[Trait("Category", "Slow")]
public class QuickstartTests
{
    [Fact]
    public void The_quickstart_runs_the_whole_curriculum_and_ends_with_the_report()
    {
        var output = Path.Combine(Fixtures.TempDir(), "quickstart");
        var r = CliProcess.RunIn(CliProcess.RepoRoot(), new Dictionary<string, string>(), "curriculum", "--config", "configs/quickstart.yaml", "--set", $"output={output}");
        Assert.True(r.ExitCode == 0, r.Stderr[^Math.Min(3000, r.Stderr.Length)..]);
        Assert.Contains(Path.GetFullPath(output), r.Stdout);
        Assert.Contains("RANDOM weights", r.Stderr + File.ReadAllText(Path.Combine(Path.GetTempPath(), "finqlora-tests-home", "tiny-llama3-random", "README.txt")));
        foreach (var stage in new[] { "stage1", "stage2" })
            Assert.True(File.Exists(Path.Combine(output, stage, "adapter", "adapter_model.safetensors")), stage);
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "eval", "metrics.json")))!.AsObject();
        Assert.True(metrics.Count >= 7);
        foreach (var f in new[] { "training_curves.png", "performance_comparison.png", "results.tex", "report.html" })
            Assert.True(File.Exists(Path.Combine(output, "report", f)), f);
    }
}
