using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Model;

namespace FinQLora.Tests.Reliability;

/// <summary>Temporary folders of killed processes are removed by the next run; concurrent first uses of the tiny model all succeed.</summary>
public sealed class TemporaryFolderTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A process id that no running process has (what a killed run's temporary name carries).</summary>
    private static int DeadPid()
    {
        for (int pid = 2_000_000_000; ; pid++)
        {
            try { System.Diagnostics.Process.GetProcessById(pid).Dispose(); }
            catch (ArgumentException) { return pid; }
        }
    }

    [Fact]
    public void Merge_and_quantize_remove_the_temporary_folders_of_killed_runs_and_keep_those_of_live_ones()
    {
        var output = Path.Combine(_dir, "merged");
        var dead = Path.Combine(_dir, $".merged.tmp-{DeadPid()}-1");
        var deadOld = Path.Combine(_dir, $".merged.tmp-{DeadPid()}");   // the name older versions used
        var live = Path.Combine(_dir, $".merged.tmp-{Environment.ProcessId}-99");
        foreach (var d in new[] { dead, deadOld, live })
        {
            Directory.CreateDirectory(d);
            File.WriteAllBytes(Path.Combine(d, "model-00001-of-00002.safetensors"), new byte[1024]);
        }
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a")], output));
        Assert.False(Directory.Exists(dead));
        Assert.False(Directory.Exists(deadOld));
        Assert.True(Directory.Exists(live));
        Assert.True(File.Exists(Path.Combine(output, "config.json")));
    }

    [Fact]
    public void Concurrent_first_uses_of_the_tiny_model_all_get_a_complete_folder()
    {
        var dir = Path.Combine(_dir, "tiny");
        var results = new string[8];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = results.Length }, i => results[i] = TinyModel.EnsureCreated(dir));
        Assert.All(results, r => Assert.Equal(dir, r));
        foreach (var f in new[] { "model.safetensors", "config.json", "tokenizer.model" }) Assert.True(File.Exists(Path.Combine(dir, f)), f);
        Assert.Empty(Directory.GetFileSystemEntries(_dir, ".*"));   // every loser removed its copy
    }

    [Fact]
    public void An_orphan_is_only_a_temporary_name_of_a_process_that_is_gone()
    {
        Assert.True(AtomicFile.IsOrphan(Path.Combine(_dir, $".x.tmp-{DeadPid()}-3")));
        Assert.False(AtomicFile.IsOrphan(Path.Combine(_dir, $".x.tmp-{Environment.ProcessId}-3")));
        Assert.False(AtomicFile.IsOrphan(Path.Combine(_dir, "x.tmp-1-3")));
        Assert.False(AtomicFile.IsOrphan(Path.Combine(_dir, ".x.tmp-abc")));
    }
}
