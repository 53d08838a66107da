namespace FinQLora.Tests.Cli;

public class InitCommandTests
{
    [Fact]
    public void Init_writes_the_kit_into_a_new_folder_and_names_the_next_command()
    {
        var work = Fixtures.TempDir();
        var r = CliProcess.RunIn(work, new Dictionary<string, string>(), "init", "qs");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(work, "qs", "configs", "quickstart.yaml")));
        Assert.True(File.Exists(Path.Combine(work, "qs", "samples", "fpb", "test.jsonl")));
        Assert.Contains("cd qs", r.Stdout);
        Assert.Contains("finqlora curriculum --config configs/quickstart.yaml", r.Stdout);
    }

    [Fact]
    public void Init_into_a_folder_that_holds_the_starter_files()
    {
        var work = Fixtures.TempDir();
        Assert.Equal(0, CliProcess.RunIn(work, new Dictionary<string, string>(), "init").ExitCode);
        var r = CliProcess.RunIn(work, new Dictionary<string, string>(), "init");
        Assert.Equal(2, r.ExitCode);
        var line = r.Stderr.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.Contains(". already holds configs/curriculum.yaml, configs/model.yaml, configs/quickstart.yaml and 20 more of the starter files: nothing was written. Pass --overwrite", line);
        Assert.Equal(0, CliProcess.RunIn(work, new Dictionary<string, string>(), "init", "--overwrite").ExitCode);
    }
}
