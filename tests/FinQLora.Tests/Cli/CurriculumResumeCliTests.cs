using System.Text.Json.Nodes;

namespace FinQLora.Tests.Cli;

/// <summary>
/// A curriculum records its whole command (--set overrides included) in .finqlora-run, which is also its resume hint,
/// and `curriculum --resume DIR` continues it with that command's config and overrides, as `train --resume DIR` does.
/// </summary>
public class CurriculumResumeCliTests
{
    [Fact]
    public void The_curriculum_records_its_overrides_and_resume_DIR_continues_with_them()
    {
        var output = Path.Combine(Fixtures.TempDir(), "curriculum");
        string[] sets = [$"output={output}", "stages.0.training.max_steps=1", "stages.1.training.max_steps=1", "evaluation.enabled=false", "report=false"];
        var r = CliProcess.RunIn(CliProcess.RepoRoot(), new Dictionary<string, string>(), ["curriculum", "--config", "configs/quickstart.yaml", .. sets.SelectMany(s => new[] { "--set", s })]);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var recorded = JsonNode.Parse(File.ReadAllText(Path.Combine(output, ".finqlora-run")))!["command"]!.GetValue<string>();
        Assert.Equal($"finqlora curriculum --config {Path.Combine(CliProcess.RepoRoot(), "configs", "quickstart.yaml")} " + string.Join(' ', sets.Select(s => "--set " + s)), recorded);

        // from another folder, without --config: the recorded config and overrides (evaluation stays off)
        r = CliProcess.RunIn(Fixtures.TempDir(), new Dictionary<string, string>(), "curriculum", "--resume", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("[stage1] already finished", r.Stderr);
        Assert.Contains("[stage2] already finished", r.Stderr);
        Assert.False(Directory.Exists(Path.Combine(output, "eval")));

        var notARun = Fixtures.TempDir();
        r = CliProcess.Run("curriculum", "--resume", notARun);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: --resume {notARun}: no .finqlora-run there (is it a curriculum folder?); pass the curriculum's --config", r.Stderr.Trim());
    }
}
