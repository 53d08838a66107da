using System.Runtime.InteropServices;
using System.Text;

namespace FinQLora.IO;

/// <summary>
/// Crash-safe file writes: the bytes go to a temporary file in the target's folder, which is
/// flushed to disk (fsync), renamed over the target (atomic within one file system), and then the
/// folder itself is fsynced so the rename survives a power loss. A reader therefore sees either
/// the old file or the complete new one, never a torn one. Temporary files are named
/// <c>.NAME.tmp-PID-N</c>; <see cref="IsTemporary"/> recognises leftovers of a killed process.
/// </summary>
public static partial class AtomicFile
{
    private static long _counter;

    public static void WriteAllText(string path, string text) => Write(path, s => s.Write(new UTF8Encoding(false).GetBytes(text)));

    public static void WriteAllBytes(string path, ReadOnlySpan<byte> bytes)
    {
        var copy = bytes.ToArray();
        Write(path, s => s.Write(copy));
    }

    /// <summary>
    /// Writes through <paramref name="write"/> into a temporary file, then publishes it under <paramref name="path"/>.
    /// On any failure the temporary file is removed and the old file (if any) stays; a full disk throws
    /// <see cref="DiskFullException"/> (naming <paramref name="expectedBytes"/> when the caller knows the size).
    /// </summary>
    public static void Write(string path, Action<Stream> write, long? expectedBytes = null)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(dir);
        var tmp = TemporaryPathFor(full);
        try
        {
            using (var stream = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch (IOException e)
        {
            TryDelete(tmp);
            if (DiskFullException.Is(e)) throw DiskFullException.For(full, expectedBytes, e);
            throw new FinQLoraException($"could not write {full}: {e.Message}", exitCode: 1, inner: e);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        SyncDirectory(dir);
    }

    /// <summary>A fresh temporary name beside <paramref name="path"/>: <c>.NAME.tmp-PID-N</c>.</summary>
    public static string TemporaryPathFor(string path)
    {
        var full = Path.GetFullPath(path);
        var n = Interlocked.Increment(ref _counter);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.tmp-{Environment.ProcessId}-{n}");
    }

    /// <summary>True for names made by <see cref="TemporaryPathFor"/> (leftovers of an interrupted write).</summary>
    public static bool IsTemporary(string path)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        return name.StartsWith('.') && name.Contains(".tmp-", StringComparison.Ordinal);
    }

    /// <summary>
    /// True for a temporary file or folder (<c>.NAME.tmp-PID</c> or <c>.NAME.tmp-PID-N</c>) whose process is gone:
    /// the leftover of a killed write, safe to remove. One of a live process (a concurrent run) is not.
    /// </summary>
    public static bool IsOrphan(string path)
    {
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(path));
        int at = name.LastIndexOf(".tmp-", StringComparison.Ordinal);
        if (!name.StartsWith('.') || at < 0) return false;
        var pid = name[(at + 5)..].Split('-')[0];
        if (!int.TryParse(pid, out var id)) return false;
        if (id == Environment.ProcessId) return false;
        try { using var p = System.Diagnostics.Process.GetProcessById(id); return p.HasExited; }
        catch (ArgumentException) { return true; }          // no such process
        catch (InvalidOperationException) { return true; }
    }

    /// <summary>Removes the orphaned temporaries (<see cref="IsOrphan"/>) of <paramref name="path"/> beside it, files or folders.</summary>
    public static void RemoveOrphans(string path)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var dir = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(dir)) return;
        foreach (var e in Directory.EnumerateFileSystemEntries(dir, $".{Path.GetFileName(full)}.tmp-*").Where(IsOrphan).ToList())
        {
            try
            {
                if (Directory.Exists(e)) Directory.Delete(e, recursive: true);
                else File.Delete(e);
            }
            catch (IOException) { }   // another process removed it first
            catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>Flushes a folder's entries (renames, creations) to disk. A no-op where the OS has no such call (Windows).</summary>
    public static void SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        int fd = open(dir, O_RDONLY | (OperatingSystem.IsLinux() ? O_DIRECTORY_LINUX : 0));
        if (fd < 0) return;  // best effort: some file systems refuse to open folders
        try { fsync(fd); }
        finally { close(fd); }
    }

    /// <summary>Flushes an existing file's bytes to disk.</summary>
    public static void SyncFile(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite);
        stream.Flush(flushToDisk: true);
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private const int O_RDONLY = 0;
    private const int O_DIRECTORY_LINUX = 0x10000;
    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)] private static partial int open(string path, int flags);
    [LibraryImport("libc", EntryPoint = "fsync")] private static partial int fsync(int fd);
    [LibraryImport("libc", EntryPoint = "close")] private static partial int close(int fd);
}
