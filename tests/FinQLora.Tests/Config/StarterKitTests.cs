using FinQLora.Config;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Config;

public class StarterKitTests
{
    /// <summary>The repository's configs and sample data files, relative and '/'-separated (the sample program's folder is not data).</summary>
    private static List<string> RepositoryFiles()
    {
        var root = CliProcess.RepoRoot();
        var configs = Directory.GetFiles(Path.Combine(root, "configs"), "*.yaml");
        var samples = Directory.GetFiles(Path.Combine(root, "samples"), "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(root, f).StartsWith(Path.Combine("samples", "LibraryQuickstart"), StringComparison.Ordinal));
        return configs.Concat(samples).Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/')).Order(StringComparer.Ordinal).ToList();
    }

    [Fact]
    public void The_kit_is_every_shipped_config_and_sample_file_byte_for_byte()
    {
        Assert.Equal(RepositoryFiles(), StarterKit.Files);
        var dir = Fixtures.TempDir();
        var written = StarterKit.WriteTo(dir);
        Assert.Equal(StarterKit.Files.Count, written.Count);
        foreach (var f in StarterKit.Files)
            Assert.True(File.ReadAllBytes(Path.Combine(CliProcess.RepoRoot(), f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(dir, f))), f);
    }

    [Fact]
    public void The_quickstart_config_in_a_written_kit_loads_with_its_includes_and_reads_the_written_samples()
    {
        var dir = Fixtures.TempDir();
        StarterKit.WriteTo(dir);
        var c = ConfigLoader.LoadCurriculum(Path.Combine(dir, StarterKit.QuickstartConfig));
        Assert.Equal(["stage1", "stage2"], c.Stages.Select(s => s.Stage));
        foreach (var stage in c.Stages)
            foreach (var task in stage.Data.Tasks)
                Assert.True(File.Exists(Path.Combine(dir, stage.Data.Dir, task, "train.jsonl")), $"{stage.Data.Dir}/{task}/train.jsonl");
    }

    [Fact]
    public void Writing_over_kit_files_is_refused_and_writes_nothing_unless_overwrite_which_leaves_other_files_alone()
    {
        var dir = Fixtures.TempDir();
        Directory.CreateDirectory(Path.Combine(dir, "configs"));
        File.WriteAllText(Path.Combine(dir, "configs", "quickstart.yaml"), "mine");
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "mine");
        var e = Assert.Throws<FinQLoraException>(() => StarterKit.WriteTo(dir));
        Assert.Equal(2, e.ExitCode);
        Assert.Contains("configs/quickstart.yaml", e.Message);
        Assert.Equal(["notes.txt", "quickstart.yaml"], Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order());

        StarterKit.WriteTo(dir, overwrite: true);
        Assert.NotEqual("mine", File.ReadAllText(Path.Combine(dir, "configs", "quickstart.yaml")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir, "notes.txt")));
    }
}
