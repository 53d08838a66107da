using System.Text;

namespace FinQLora.Runs;

/// <summary>
/// One process per run folder: an exclusive lock on <c>DIR/.finqlora-run.lock</c> (flock, through
/// .NET's FileShare.None on Unix) held for the whole run. A second <c>train --resume DIR</c> started
/// while the first is still running is refused instead of deleting the first one's checkpoint in
/// progress as "half-written". The lock dies with its process, so a killed run leaves none behind.
/// </summary>
public sealed class RunLock : IDisposable
{
    public const string FileName = ".finqlora-run.lock";
    private readonly FileStream _stream;
    private readonly string _path;

    private RunLock(FileStream stream, string path) => (_stream, _path) = (stream, path);

    /// <summary>Takes the lock on <paramref name="output"/> (which must exist); throws (exit 2) when another process holds it.</summary>
    public static RunLock Acquire(string output)
    {
        var path = Path.Combine(output, FileName);
        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            // (the holder's PID is written in the file, but .NET's own flock keeps another process from reading it)
            throw new FinQLoraException($"{output} is in use by another training process: one run folder takes one process at a time " +
                $"(wait for it, or stop it first; `fuser {path}` names it)", RunFolder.ExitCode);
        }
        stream.SetLength(0);
        stream.Write(Encoding.UTF8.GetBytes($"PID {Environment.ProcessId} on {Environment.MachineName}\n"));
        stream.Flush();
        return new RunLock(stream, path);
    }

    /// <summary>Releases the lock and removes its file, so a finished (or failed) run leaves none behind.</summary>
    public void Dispose()
    {
        if (_stream.SafeFileHandle.IsClosed) return;
        try { File.Delete(_path); } catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        _stream.Dispose();
    }
}
