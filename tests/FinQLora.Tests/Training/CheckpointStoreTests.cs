using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class CheckpointStoreTests
{
    private static void Files(string dir, string content)
    {
        File.WriteAllText(Path.Combine(dir, "trainer_state.json"), content);
        Directory.CreateDirectory(Path.Combine(dir, "adapter"));
        File.WriteAllText(Path.Combine(dir, "adapter", "adapter_config.json"), "{}");
    }

    [Fact]
    public void A_saved_checkpoint_has_a_manifest_with_hashes_and_the_marker()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 3);
        var dir = store.Save(12, d => Files(d, "abc"));
        Assert.Equal("step-000012", Path.GetFileName(dir));
        Assert.True(File.Exists(Path.Combine(dir, CheckpointStore.CompleteMarker)));
        var m = CheckpointStore.ReadManifest(dir);
        Assert.Equal(12, m.Step);
        Assert.Equal(["adapter/adapter_config.json", "trainer_state.json"], m.Files.Select(f => f.Path));
        // SHA-256("abc"), from FIPS 180-2
        Assert.Equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", m.Files[1].Sha256);
        Assert.Equal(3, m.Files[1].Bytes);
        Assert.Null(CheckpointStore.Verify(dir));
    }

    [Fact]
    public void Only_the_last_k_are_kept()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 2);
        foreach (var step in new[] { 10, 20, 30, 40 }) store.Save(step, d => Files(d, $"s{step}"));
        Assert.Equal([30L, 40L], store.List().Select(c => c.Step));
    }

    [Fact]
    public void Saving_a_step_again_replaces_it()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 2);
        store.Save(5, d => Files(d, "first"));
        var dir = store.Save(5, d => Files(d, "second"));
        Assert.Equal("second", File.ReadAllText(Path.Combine(dir, "trainer_state.json")));
        Assert.Single(Directory.GetDirectories(store.Dir));
    }

    [Fact]
    public void A_damaged_newest_checkpoint_is_reported_and_skipped()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        store.Save(10, d => Files(d, "ten"));
        var newest = store.Save(20, d => Files(d, "twenty"));
        File.WriteAllText(Path.Combine(newest, "trainer_state.json"), "tw3nty");  // same size, other bytes
        var reports = new List<string>();
        var found = store.FindLatest(reports.Add);
        Assert.Equal(10, found!.Step);
        Assert.Equal(["checkpoint step-000020 is incomplete or damaged (trainer_state.json does not match its SHA-256); skipping it"], reports);
    }

    [Fact]
    public void A_checkpoint_without_its_marker_or_with_a_truncated_file_is_not_complete()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        var a = store.Save(1, d => Files(d, "one"));
        var b = store.Save(2, d => Files(d, "two"));
        File.Delete(Path.Combine(a, CheckpointStore.CompleteMarker));
        File.WriteAllText(Path.Combine(b, "trainer_state.json"), "t");
        Assert.Equal("no COMPLETE marker", CheckpointStore.Verify(a));
        Assert.Equal("trainer_state.json has 1 bytes, the manifest says 3", CheckpointStore.Verify(b));
        Assert.Null(store.FindLatest());
    }

    [Fact]
    public void A_write_killed_midway_leaves_the_previous_checkpoint_as_the_newest()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        store.Save(10, d => Files(d, "ten"));
        Assert.Throws<FinQLoraException>(() => store.Save(20, d => { Files(d, "twenty"); throw new IOException("simulated crash"); }));
        Assert.Equal(10, store.FindLatest()!.Step);
        Assert.Single(Directory.GetDirectories(store.Dir));
    }

    [Fact]
    public void Leftover_temporary_folders_of_a_killed_process_are_reported_then_removed()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        store.Save(10, d => Files(d, "ten"));
        var leftover = Path.Combine(store.Dir, ".step-000020.tmp-99999-1");
        Directory.CreateDirectory(leftover);
        File.WriteAllText(Path.Combine(leftover, "trainer_state.json"), "half");
        var reports = new List<string>();
        Assert.Equal(10, store.FindLatest(reports.Add)!.Step);
        Assert.Contains(reports, r => r.Contains(".step-000020.tmp-99999-1") && r.Contains("half-written"));
        store.Save(30, d => Files(d, "thirty"), reports.Add);
        Assert.False(Directory.Exists(leftover));
    }

    [Fact]
    public void A_manifest_path_escaping_the_folder_is_rejected()
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        var dir = store.Save(1, d => Files(d, "one"));
        var manifest = Path.Combine(dir, CheckpointStore.ManifestFile);
        File.WriteAllText(manifest, File.ReadAllText(manifest).Replace("\"trainer_state.json\"", "\"../../etc/passwd\""));
        Assert.Contains("outside the checkpoint", CheckpointStore.Verify(dir));
    }

    [Theory]
    [InlineData("""{"version":1,"step":1,"created_utc":"x","files":[null]}""")]
    [InlineData("""{"version":1,"step":1,"created_utc":"x","files":[{}]}""")]
    [InlineData("""{"version":1,"step":1,"created_utc":"x","files":[{"path":"trainer_state.json","bytes":3}]}""")]
    public void A_manifest_with_an_invalid_entry_is_damaged_not_a_crash(string manifest)
    {
        var store = new CheckpointStore(Path.Combine(Fixtures.TempDir(), "checkpoints"), 5);
        var good = store.Save(1, d => Files(d, "one"));
        var bad = store.Save(2, d => Files(d, "two"));
        File.WriteAllText(Path.Combine(bad, CheckpointStore.ManifestFile), manifest);
        Assert.Equal("manifest.json has an invalid entry (no path or no SHA-256)", CheckpointStore.Verify(bad));
        var log = new List<string>();
        Assert.Equal(good, store.FindLatest(log.Add)!.Dir);
        Assert.Contains(log, l => l.Contains("invalid entry"));
    }
}
