using FinQLora.IO;

namespace FinQLora.Tests.IO;

public class AtomicFileTests
{
    [Fact]
    public void Writes_replace_the_file_and_leave_no_temporary_behind()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "a.json");
        AtomicFile.WriteAllText(path, "one");
        AtomicFile.WriteAllText(path, "two");
        Assert.Equal("two", File.ReadAllText(path));
        Assert.Equal(["a.json"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Fact]
    public void A_failing_writer_leaves_the_old_file_untouched()
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "a.bin");
        AtomicFile.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write([9, 9, 9, 9]);
            throw new InvalidOperationException("killed mid-write");
        }));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void Creates_missing_folders() 
    {
        var path = Path.Combine(Fixtures.TempDir(), "x", "y", "z.txt");
        AtomicFile.WriteAllText(path, "ok");
        Assert.Equal("ok", File.ReadAllText(path));
    }

    [Fact]
    public void Temporary_names_are_recognised()
    {
        var tmp = AtomicFile.TemporaryPathFor("/a/b/step-000010");
        Assert.StartsWith("/a/b/.step-000010.tmp-", tmp);
        Assert.True(AtomicFile.IsTemporary(tmp));
        Assert.False(AtomicFile.IsTemporary("/a/b/step-000010"));
    }

    [Fact]
    public void Syncing_a_folder_works_and_tolerates_a_missing_one()
    {
        AtomicFile.SyncDirectory(Fixtures.TempDir());
        AtomicFile.SyncDirectory("/nonexistent-folder-for-test");
    }
}
