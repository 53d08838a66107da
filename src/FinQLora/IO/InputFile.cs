using System.Runtime.InteropServices;
using System.Text;

namespace FinQLora.IO;

/// <summary>
/// The one door through which FinQLora opens a file it was given (configs, model and adapter files,
/// tokenizers, data, manifests). A size check on <see cref="FileInfo.Length"/> alone is no cap: /dev/zero
/// and /dev/urandom report 0 bytes and never end, /proc files report 0 and hold more, and opening a FIFO
/// blocks until someone writes to it. So the path must name a regular file (symbolic links followed),
/// checked before it is opened, and whole-file reads go through a stream that stops one byte past the cap.
/// </summary>
public static class InputFile
{
    /// <summary>Refuses a missing path, a folder, and anything that is not a regular file (device, FIFO, socket).</summary>
    public static void RequireRegular(string path)
    {
        var kind = KindOf(path);
        if (kind == Kind.Missing) throw new FinQLoraException($"{path}: file not found");
        if (kind == Kind.Directory) throw new FinQLoraException($"{path}: is a folder, expected a file");
        if (kind != Kind.Regular)
            throw new FinQLoraException($"{path}: not a regular file ({kind switch { Kind.Fifo => "a named pipe", Kind.CharDevice => "a character device", Kind.BlockDevice => "a block device", _ => "a socket" }}): give the path of a file");
    }

    /// <summary>A read-only stream over a regular file.</summary>
    public static FileStream OpenRead(string path, int bufferSize = 4096)
    {
        RequireRegular(path);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize);
    }

    /// <summary>A read-write stream over a regular file this program keeps appending to (a log it repairs on resume).</summary>
    public static FileStream OpenReadWrite(string path)
    {
        RequireRegular(path);
        return new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read);
    }

    /// <summary>The whole file, refused when over <paramref name="maxBytes"/> (counted while reading, not trusted from the size).</summary>
    public static byte[] ReadBytes(string path, long maxBytes, Func<long, FinQLoraException>? tooLarge = null)
    {
        tooLarge ??= bytes => TooLarge(path, bytes, maxBytes);
        using var stream = OpenRead(path);
        long declared = stream.Length;
        if (declared > maxBytes) throw tooLarge(declared);
        var buffer = new MemoryStream((int)Math.Min(declared + 1, maxBytes + 1));
        var chunk = new byte[64 << 10];
        for (int n; (n = stream.Read(chunk)) > 0;)
        {
            if (buffer.Length + n > maxBytes) throw tooLarge(buffer.Length + n);
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>The whole file as UTF-8 text (a byte-order mark skipped), under the same cap.</summary>
    public static string ReadText(string path, long maxBytes, bool strictUtf8 = false, Func<long, FinQLoraException>? tooLarge = null)
    {
        var bytes = ReadBytes(path, maxBytes, tooLarge);
        int start = bytes.AsSpan().StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]) ? 3 : 0;
        try { return new UTF8Encoding(false, throwOnInvalidBytes: strictUtf8).GetString(bytes, start, bytes.Length - start); }
        catch (DecoderFallbackException) { throw new FinQLoraException($"{path}: not valid UTF-8 (corrupt file?)"); }
    }

    public static FinQLoraException TooLarge(string path, long bytes, long maxBytes) =>
        new($"{path}: {bytes:N0} bytes is over the {maxBytes:N0}-byte limit for this file (corrupt or not the expected file)");

    private enum Kind { Missing, Regular, Directory, Fifo, CharDevice, BlockDevice, Socket }

    private static Kind KindOf(string path)
    {
        if (OperatingSystem.IsLinux())
        {
            var mode = StatxMode(path);
            if (mode is null) return Kind.Missing;
            return (mode.Value & 0xF000) switch
            {
                0x8000 => Kind.Regular,
                0x4000 => Kind.Directory,
                0x1000 => Kind.Fifo,
                0x2000 => Kind.CharDevice,
                0x6000 => Kind.BlockDevice,
                _ => Kind.Socket,
            };
        }
        // elsewhere: what .NET can tell (devices and pipes are not reachable by an ordinary path on Windows)
        if (Directory.Exists(path)) return Kind.Directory;
        return File.Exists(path) ? Kind.Regular : Kind.Missing;
    }

    // statx(2): one struct layout on every Linux architecture (stat's differs between x86-64 and arm64).
    [DllImport("libc", SetLastError = true)]
    private static extern unsafe int statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;

    private static unsafe ushort? StatxMode(string path)
    {
        byte* buffer = stackalloc byte[256];
        int rc = statx(AtFdCwd, path, 0, StatxType, buffer);   // flags 0: symbolic links are followed
        return rc == 0 ? *(ushort*)(buffer + 28) : null;       // stx_mode is a u16 at offset 28
    }
}
