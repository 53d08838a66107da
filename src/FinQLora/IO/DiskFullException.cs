namespace FinQLora.IO;

/// <summary>
/// A write that failed because the disk (or the user's quota) is full. Its message names the file,
/// the bytes it needed when known and the space left; the CLI exits with <see cref="Code"/>.
/// <see cref="AtomicFile"/> turns the operating system's error into this; <c>Runs.CheckpointStore</c>
/// adds which checkpoint failed and which one before it is intact.
/// </summary>
public sealed class DiskFullException(string message, string path, long? neededBytes, Exception inner) : FinQLoraException(message, Code, inner)
{
    /// <summary>The exit code of a run stopped by a full disk.</summary>
    public const int Code = 6;

    /// <summary>The file (or folder) that could not be written.</summary>
    public string Path { get; } = path;

    /// <summary>The size of the file that could not be written, when the writer knew it.</summary>
    public long? NeededBytes { get; } = neededBytes;

    private const int Enospc = 28;                 // Linux, macOS: "No space left on device"
    private const int EdquotLinux = 122;           // "Disk quota exceeded"
    private const int EdquotMac = 69;
    private const int WinDiskFull = unchecked((int)0x80070070), WinHandleDiskFull = unchecked((int)0x80070027);

    /// <summary>
    /// True when <paramref name="e"/> or an inner exception says the disk is full: an IOException with
    /// errno ENOSPC/EDQUOT (.NET on Unix puts the errno in HResult), the Windows disk-full codes, or one of those messages.
    /// </summary>
    public static bool Is(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is DiskFullException) return true;
            if (x is not IOException io) continue;
            int h = io.HResult;
            if (h is Enospc or WinDiskFull or WinHandleDiskFull || (OperatingSystem.IsLinux() && h == EdquotLinux) || (OperatingSystem.IsMacOS() && h == EdquotMac))
                return true;
            if (io.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase)
                || io.Message.Contains("Disk quota exceeded", StringComparison.OrdinalIgnoreCase)
                || io.Message.Contains("not enough space on the disk", StringComparison.OrdinalIgnoreCase))
                return true;
        }
        return false;
    }

    /// <summary>The error for a full disk while writing <paramref name="path"/> (<paramref name="neededBytes"/> long, when known).</summary>
    public static DiskFullException For(string path, long? neededBytes, Exception inner)
    {
        var needed = neededBytes is { } n ? $" ({Size(n)} to write)" : "";
        return new DiskFullException($"the disk is full: could not write {path}{needed}; {FreeSpace(path)}. Free space or choose another output folder", path, neededBytes, inner);
    }

    /// <summary>"12.3 MiB free in /data/runs" (the file system holding <paramref name="path"/>), or "free space unknown".</summary>
    public static string FreeSpace(string path)
    {
        try
        {
            var dir = System.IO.Path.GetFullPath(path);
            while (!Directory.Exists(dir) && System.IO.Path.GetDirectoryName(dir) is { } parent) dir = parent;
            var drive = new DriveInfo(dir);
            return $"{Size(drive.AvailableFreeSpace)} free in {dir}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return "free space unknown";
        }
    }

    /// <summary>Bytes in binary units: "512 B", "3.4 KiB", "1.2 GiB".</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : $"{v:0.0} {units[u]}";
    }
}
