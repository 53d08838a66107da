using System.Text.Json;
using FinQLora.IO;

namespace FinQLora.Runs;

/// <summary>
/// Output-folder safety: a run never writes into a folder that already holds files unless it
/// resumes that run (<c>--resume</c>) or is told to replace it (<c>--overwrite</c>). A folder made by
/// FinQLora carries a <c>.finqlora-run</c> marker; --overwrite only ever deletes folders with that
/// marker, so a mistyped output path cannot wipe unrelated files.
/// </summary>
public static class RunFolder
{
    public const string Marker = ".finqlora-run";
    public const int ExitCode = 2;

    public enum Mode { New, Resume, Overwrite }

    /// <summary>Throws what <see cref="Prepare"/> would refuse, without changing anything (to refuse before other checks run).</summary>
    public static void Check(string output, Mode mode)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        bool exists = Directory.Exists(full);
        bool ours = exists && File.Exists(Path.Combine(full, Marker));
        bool empty = !exists || !Directory.EnumerateFileSystemEntries(full).Select(Path.GetFileName).Any(n => n is not (Marker or RunLock.FileName));
        if (mode == Mode.Resume && !ours) Refuse(output, mode, exists, ours);
        if (mode == Mode.New && !empty) Refuse(output, mode, exists, ours);
        if (mode == Mode.Overwrite && !empty && !ours) Refuse(output, mode, exists, ours);
    }

    private static void Refuse(string output, Mode mode, bool exists, bool ours) => throw (mode switch
    {
        Mode.Resume => new FinQLoraException(exists
            ? $"--resume: {output} is not a FinQLora run folder (no {Marker}); nothing to resume"
            : $"--resume: {output} does not exist; nothing to resume (start the run without --resume)", ExitCode),
        Mode.New => new FinQLoraException(
            $"the output folder {output} already holds {(ours ? "a run" : "files")}: pass --resume to continue {(ours ? "it" : "a run there")}, --overwrite to replace it, or choose another folder (--set output=DIR)",
            ExitCode),
        _ => new FinQLoraException(
            $"--overwrite: {output} holds files but is not a FinQLora run folder (no {Marker}), so it is not deleted: remove it yourself or choose another folder", ExitCode),
    });

    /// <summary>Makes <paramref name="output"/> ready for a run in the given mode; throws with the fix when it is not safe.</summary>
    public static void Prepare(string output, Mode mode, string command = "finqlora")
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        RemoveDeletedLeftovers(full);
        bool exists = Directory.Exists(full);
        bool ours = exists && File.Exists(Path.Combine(full, Marker));
        // a run killed before it wrote anything (only the marker and its lock) counts as empty
        bool empty = !exists || !Directory.EnumerateFileSystemEntries(full).Select(Path.GetFileName).Any(n => n is not (Marker or RunLock.FileName));
        switch (mode)
        {
            case Mode.Resume:
                if (!ours) Refuse(output, mode, exists, ours);
                RemoveLeftovers(full);
                return;
            case Mode.New when !empty:
            case Mode.Overwrite when !empty && !ours:
                Refuse(output, mode, exists, ours);
                break;
            case Mode.Overwrite when ours:
                // move aside first (atomic), then delete: a crash in between leaves no half-deleted run under the name
                var trash = AtomicFile.TemporaryPathFor(full + ".deleted");
                Directory.Move(full, trash);
                Directory.Delete(trash, recursive: true);
                break;
        }
        Directory.CreateDirectory(full);
        AtomicFile.WriteAllText(Path.Combine(full, Marker), JsonSerializer.Serialize(new { created_utc = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), command }) + "\n");
    }

    /// <summary>
    /// Deletes the temporary files a killed process left in the run folder and its final adapter folder
    /// (<c>.NAME.tmp-PID-N</c>, see <see cref="AtomicFile"/>); the files they were to replace are intact.
    /// Half-written checkpoints are the <see cref="CheckpointStore"/>'s to report and remove.
    /// </summary>
    private static void RemoveLeftovers(string full)
    {
        foreach (var dir in new[] { full, RunLayout.FinalAdapterDirOf(full) })
        {
            if (!Directory.Exists(dir)) continue;
            foreach (var f in Directory.GetFiles(dir).Where(AtomicFile.IsTemporary))
            {
                try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }

    /// <summary>
    /// Deletes the <c>.NAME.deleted.tmp-PID-N</c> folders an --overwrite killed between its move and its
    /// delete left beside <paramref name="full"/> (only --overwrite makes them, only from run folders).
    /// </summary>
    private static void RemoveDeletedLeftovers(string full)
    {
        var parent = Path.GetDirectoryName(full);
        if (parent is null || !Directory.Exists(parent)) return;
        foreach (var dir in Directory.GetDirectories(parent, $".{Path.GetFileName(full)}.deleted.tmp-*"))
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>True when <paramref name="output"/> is a FinQLora run folder.</summary>
    public static bool IsRun(string output) => File.Exists(Path.Combine(output, Marker));
}
