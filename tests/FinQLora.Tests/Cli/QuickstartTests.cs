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
        // the report, opened as a researcher would: it says what the model is and what was scored, and has nothing empty
        Assert.Equal(["performance_comparison.png", "report.html", "results.md", "results.tex", "training_curves.png"],
            Directory.GetFiles(Path.Combine(output, "report")).Select(Path.GetFileName).Order());
        var md = File.ReadAllText(Path.Combine(output, "report", "results.md"));
        Assert.StartsWith("> **RANDOM WEIGHTS: tiny + stage1+stage2", md);
        Assert.Contains("| tiny + stage1+stage2 | ", md);
        Assert.Contains("tiny + stage1+stage2 scored 8 test rows per task (limit 8 per task)", md);
        Assert.Contains("SMP acc of tiny + stage1+stage2 = mean accuracy over BigData22, CIKM18 only (ACL18 not evaluated", md);
        var html = File.ReadAllText(Path.Combine(output, "report", "report.html"));
        Assert.Contains("<tr><td>model</td><td>tiny (RANDOM weights)</td></tr>", html);
        Assert.Contains("defaulted (%)", html);
        Assert.Contains("report: left out gpu_utilization.png: no GPU samples", r.Stderr);
    }
}
