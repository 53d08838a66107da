using FinQLora.IO;
using FinQLora.Runs;
using FinQLora.Tests.Cli;
using FinQLora.Training;

namespace FinQLora.Tests.Reliability;

/// <summary>
/// A full disk while a checkpoint is written: the run stops with exit code 6 and a message that names the
/// file, the space left, the intact checkpoint before it and the command that resumes; the half-written
/// files are gone and nothing earlier is lost.
/// </summary>
[Collection(TinyTrainRunCollection.Name)]
[Trait("Category", "Slow")]
public sealed class DiskFullTests(TinyTrainRun run)
{
    private static IOException Enospc(string path) => new($"No space left on device : '{path}'", 28);  // what .NET on Linux throws

    [Fact]
    public void A_full_disk_during_a_checkpoint_stops_the_run_with_exit_code_6_and_loses_nothing()
    {
        var output = Path.Combine(run.Root, "disk-full");
        var r = CliProcess.RunWith(new Dictionary<string, string> { ["FINQLORA_FAULT"] = "disk-full-at-checkpoint:6" }, run.TrainArgs(output));
        Assert.True(r.ExitCode == DiskFullException.Code, $"exit code {r.ExitCode}\n{r.Stderr}{r.Stdout}");
        Assert.Equal(6, DiskFullException.Code);
        var error = Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("error: ", StringComparison.Ordinal));
        Assert.StartsWith("error: the disk is full: checkpoint step-000006 could not be written (optimizer.safetensors; ", error);
        Assert.Contains($" free in {Path.Combine(output, "checkpoints")}). Its half-written files were removed; the checkpoint before it, step-000004, is intact (a checkpoint takes about ", error);
        Assert.EndsWith($"Free space (or move the run folder to a larger disk), then resume with: finqlora train --resume {output}", error.TrimEnd());

        var store = new CheckpointStore(Path.Combine(output, "checkpoints"), 2);
        Assert.Equal([2L, 4L], store.List().Select(c => c.Step));
        Assert.All(store.List(), c => Assert.Null(CheckpointStore.Verify(c.Dir)));
        Assert.Equal([RunFolder.Marker], Directory.GetFileSystemEntries(output, ".*", SearchOption.AllDirectories).Select(Path.GetFileName).Order());  // no temporary file or folder, and the lock file is removed when the run ends

        var resumed = CliProcess.Run(run.ResumeArgs(output));
        Assert.True(resumed.ExitCode == 0, $"exit code {resumed.ExitCode}\n{resumed.Stderr}");
        Assert.Equal(File.ReadAllBytes(TinyTrainRun.AdapterWeights(run.Straight)), File.ReadAllBytes(TinyTrainRun.AdapterWeights(output)));
    }

    [Fact]
    public void The_error_a_full_disk_gives_on_linux_is_recognised()
    {
        if (!OperatingSystem.IsLinux()) return;
        // /dev/full fails every write with ENOSPC
        var e = Assert.ThrowsAny<IOException>(() =>
        {
            using var full = new FileStream("/dev/full", FileMode.Open, FileAccess.Write, FileShare.ReadWrite, bufferSize: 0);
            full.Write(new byte[16]);
        });
        Assert.Equal(28, e.HResult);
        Assert.True(DiskFullException.Is(e));
        Assert.True(DiskFullException.Is(new FinQLoraException("wrapped", inner: e)));
        Assert.False(DiskFullException.Is(new IOException("Permission denied", 13)));
        Assert.False(DiskFullException.Is(new UnauthorizedAccessException("No space left on device")));
    }

    [Fact]
    public void An_atomic_write_on_a_full_disk_names_the_file_and_its_size_and_keeps_the_old_file()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "weights.safetensors");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<DiskFullException>(() => AtomicFile.Write(path, s => { s.Write(new byte[100]); throw Enospc(path); }, expectedBytes: 3 * 1024 * 1024 / 2));
        Assert.Equal(6, e.ExitCode);
        Assert.Equal(path, e.Path);
        Assert.StartsWith($"the disk is full: could not write {path} (1.5 MiB to write); ", e.Message);
        Assert.EndsWith(". Free space or choose another output folder", e.Message);
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Equal(["weights.safetensors"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_checkpoint_that_hits_a_full_disk_is_removed_and_the_one_before_it_stays()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), keepLast: 1);
        store.Save(10, d => File.WriteAllBytes(Path.Combine(d, "a.bin"), new byte[2048]));
        var e = Assert.Throws<DiskFullException>(() => store.Save(20, d =>
        {
            File.WriteAllBytes(Path.Combine(d, "a.bin"), new byte[2048]);
            AtomicFile.Write(Path.Combine(d, "sub", "b.safetensors"), s => throw Enospc("b"), expectedBytes: 4096);
        }));
        Assert.Equal(DiskFullException.Code, e.ExitCode);
        Assert.StartsWith("the disk is full: checkpoint step-000020 could not be written (sub/b.safetensors, 4.0 KiB; ", e.Message);
        Assert.EndsWith("Its half-written files were removed; the checkpoint before it, step-000010, is intact (a checkpoint takes about 2.0 KiB). Free space (or move the run folder to a larger disk), then resume", e.Message);
        Assert.Equal(["step-000010"], Directory.GetFileSystemEntries(store.Dir).Select(Path.GetFileName));
        Assert.Null(CheckpointStore.Verify(Path.Combine(store.Dir, "step-000010")));
    }

    [Fact]
    public void A_first_checkpoint_that_hits_a_full_disk_says_a_resume_starts_again()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), keepLast: 2);
        var e = Assert.Throws<DiskFullException>(() => store.Save(3, _ => throw Enospc("x")));
        Assert.Contains("(its folder; ", e.Message);
        Assert.Contains("there is no earlier checkpoint, so a resumed run starts again from step 0", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(store.Dir));
    }
}
