using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using FinQLora.IO;

namespace FinQLora.Runs;

/// <summary>One file of a checkpoint: its path relative to the checkpoint folder ('/'-separated), size and SHA-256.</summary>
public sealed record ManifestEntry(string Path, long Bytes, string Sha256);

/// <summary>manifest.json: what a complete checkpoint holds.</summary>
public sealed record CheckpointManifest(int Version, long Step, string CreatedUtc, IReadOnlyList<ManifestEntry> Files);

/// <summary>A checkpoint folder found on disk.</summary>
public sealed record CheckpointInfo(string Dir, long Step);

/// <summary>
/// Checkpoints in <c>OUTPUT/checkpoints/step-NNNNNN/</c>. A checkpoint is written into a temporary
/// folder (<c>.step-NNNNNN.tmp-PID-N</c>), each file fsynced, then manifest.json (every file with size
/// and SHA-256), then the COMPLETE marker last; the folder is renamed into place and the parent
/// fsynced. So a process killed at any point leaves either the previous state or a complete new
/// checkpoint plus a temporary folder, which the next run reports and removes. When resuming, the
/// newest checkpoint whose marker, manifest and file hashes all check out is used; a damaged one
/// is reported and skipped. Only the newest <c>keep_last</c> complete checkpoints are kept.
/// </summary>
public sealed class CheckpointStore(string dir, int keepLast)
{
    public const string ManifestFile = "manifest.json";
    public const string CompleteMarker = "COMPLETE";
    private const string Prefix = "step-";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public string Dir { get; } = dir;
    public int KeepLast { get; } = keepLast >= 1 ? keepLast : throw new ArgumentOutOfRangeException(nameof(keepLast), "keep_last must be >= 1");

    public static string NameOf(long step) => $"{Prefix}{step:D6}";

    /// <summary>
    /// Writes checkpoint <paramref name="step"/>: <paramref name="writeFiles"/> fills the given (temporary)
    /// folder; this method then seals it, publishes it and prunes old ones. Returns the final folder.
    /// Leftover temporary folders and damaged checkpoints are reported through <paramref name="report"/> and removed.
    /// </summary>
    public string Save(long step, Action<string> writeFiles, Action<string>? report = null)
    {
        Directory.CreateDirectory(Dir);
        var final = Path.Combine(Dir, NameOf(step));
        var tmp = AtomicFile.TemporaryPathFor(final);
        Directory.CreateDirectory(tmp);
        try
        {
            writeFiles(tmp);
            Seal(tmp, step);
            if (Directory.Exists(final))
            {
                // the same step saved again (e.g. the end of a run that just checkpointed): swap it
                var old = AtomicFile.TemporaryPathFor(final + ".old");
                Directory.Move(final, old);
                Directory.Move(tmp, final);
                AtomicFile.SyncDirectory(Dir);
                Directory.Delete(old, recursive: true);
            }
            else
            {
                Directory.Move(tmp, final);
            }
            AtomicFile.SyncDirectory(Dir);
        }
        catch (Exception e) when (DiskFullException.Is(e))
        {
            TryDelete(tmp);
            throw DiskFull(step, tmp, e);
        }
        catch (IOException e)
        {
            TryDelete(tmp);
            throw new FinQLoraException($"could not write checkpoint {final}: {e.Message}", exitCode: 1, inner: e);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        Prune(report);
        return final;
    }

    /// <summary>
    /// The error for a full disk while checkpoint <paramref name="step"/> was being written into <paramref name="tmp"/>
    /// (already removed): which file, how much it needed and how much a checkpoint takes, the space left,
    /// and the newest checkpoint that is still intact.
    /// </summary>
    private DiskFullException DiskFull(long step, string tmp, Exception e)
    {
        var inner = e as DiskFullException ?? e.InnerException as DiskFullException;
        string file = inner is null ? "its folder" : Path.GetRelativePath(tmp, inner.Path).Replace(Path.DirectorySeparatorChar, '/');
        string needed = inner?.NeededBytes is { } n ? $", {DiskFullException.Size(n)}" : "";
        var previous = FindLatest();
        string before = previous is null
            ? "there is no earlier checkpoint, so a resumed run starts again from step 0"
            : $"the checkpoint before it, {Path.GetFileName(previous.Dir)}, is intact (a checkpoint takes about {DiskFullException.Size(ReadManifest(previous.Dir).Files.Sum(f => f.Bytes))})";
        return new DiskFullException(
            $"the disk is full: checkpoint {NameOf(step)} could not be written ({file}{needed}; {DiskFullException.FreeSpace(Dir)}). " +
            $"Its half-written files were removed; {before}. Free space (or move the run folder to a larger disk), then resume",
            inner?.Path ?? tmp, inner?.NeededBytes, e);
    }

    /// <summary>The checkpoint folders present (complete or not), oldest first; temporary folders excluded.</summary>
    public IReadOnlyList<CheckpointInfo> List()
    {
        if (!Directory.Exists(Dir)) return [];
        return Directory.GetDirectories(Dir)
            .Select(d => (d, name: Path.GetFileName(d)))
            .Where(x => x.name.StartsWith(Prefix, StringComparison.Ordinal) && long.TryParse(x.name[Prefix.Length..], out _))
            .Select(x => new CheckpointInfo(x.d, long.Parse(x.name[Prefix.Length..])))
            .OrderBy(c => c.Step).ToList();
    }

    /// <summary>
    /// The newest checkpoint that verifies, or null. Each newer one that does not is reported
    /// ("checkpoint step-000200 is damaged (…), skipped"), as is each leftover temporary folder.
    /// </summary>
    public CheckpointInfo? FindLatest(Action<string>? report = null, bool verifyHashes = true)
    {
        foreach (var t in Leftovers())
            report?.Invoke($"skipping the half-written checkpoint {Path.GetFileName(t)}: its write was interrupted ({Verify(t, verifyHashes: false)}); it is removed at the next checkpoint");
        foreach (var c in List().Reverse())
        {
            var problem = Verify(c.Dir, verifyHashes);
            if (problem is null) return c;
            report?.Invoke($"checkpoint {Path.GetFileName(c.Dir)} is incomplete or damaged ({problem}); skipping it");
        }
        return null;
    }

    /// <summary>Null if the checkpoint folder is complete and intact, else what is wrong with it.</summary>
    public static string? Verify(string checkpointDir, bool verifyHashes = true)
    {
        if (!File.Exists(Path.Combine(checkpointDir, CompleteMarker))) return $"no {CompleteMarker} marker";
        CheckpointManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CheckpointManifest>(IO.InputFile.ReadText(Path.Combine(checkpointDir, ManifestFile), IO.JsonFile.MaxConfigBytes), Json);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException or FinQLoraException)
        {
            return $"{ManifestFile} unreadable: {e.Message}";
        }
        if (manifest?.Files is null) return $"{ManifestFile} is empty";
        foreach (var f in manifest.Files)
        {
            if (f?.Path is null || f.Sha256 is null) return $"{ManifestFile} has an invalid entry (no path or no SHA-256)";
            if (f.Path.Contains("..", StringComparison.Ordinal) || Path.IsPathRooted(f.Path)) return $"{ManifestFile} names a path outside the checkpoint: {f.Path}";
            var path = Path.Combine(checkpointDir, f.Path);
            if (!File.Exists(path)) return $"{f.Path} is missing";
            var len = new FileInfo(path).Length;
            if (len != f.Bytes) return $"{f.Path} has {len} bytes, the manifest says {f.Bytes}";
            try
            {
                if (verifyHashes && Sha256Of(path) != f.Sha256) return $"{f.Path} does not match its SHA-256";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FinQLoraException)
            {
                return $"{f.Path} unreadable: {e.Message}";
            }
        }
        return null;
    }

    public static CheckpointManifest ReadManifest(string checkpointDir) =>
        JsonSerializer.Deserialize<CheckpointManifest>(IO.InputFile.ReadText(Path.Combine(checkpointDir, ManifestFile), IO.JsonFile.MaxConfigBytes), Json)!;

    private static void Seal(string tmp, long step)
    {
        var files = Directory.GetFiles(tmp, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(tmp, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => f is not ManifestFile and not CompleteMarker)
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        var entries = new List<ManifestEntry>();
        foreach (var f in files)
        {
            var path = Path.Combine(tmp, f);
            AtomicFile.SyncFile(path);
            entries.Add(new ManifestEntry(f, new FileInfo(path).Length, Sha256Of(path)));
        }
        foreach (var sub in Directory.GetDirectories(tmp, "*", SearchOption.AllDirectories)) AtomicFile.SyncDirectory(sub);
        var manifest = new CheckpointManifest(1, step, DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ"), entries);
        AtomicFile.WriteAllText(Path.Combine(tmp, ManifestFile), JsonSerializer.Serialize(manifest, Json));
        AtomicFile.WriteAllText(Path.Combine(tmp, CompleteMarker), $"step {step}\n");
    }

    private IEnumerable<string> Leftovers() =>
        Directory.Exists(Dir) ? Directory.GetDirectories(Dir).Where(d => AtomicFile.IsTemporary(d) && Path.GetFileName(d).StartsWith("." + Prefix, StringComparison.Ordinal)) : [];

    /// <summary>Keeps the newest <see cref="KeepLast"/> complete checkpoints; removes older ones, damaged ones and leftovers of interrupted writes.</summary>
    private void Prune(Action<string>? report)
    {
        foreach (var t in Leftovers())
        {
            report?.Invoke($"removing the half-written checkpoint {Path.GetFileName(t)} (an interrupted write)");
            TryDelete(t);
        }
        int kept = 0;
        foreach (var c in List().Reverse())
        {
            bool complete = Verify(c.Dir, verifyHashes: false) is null;
            if (complete && kept < KeepLast) { kept++; continue; }
            if (!complete) report?.Invoke($"removing the damaged checkpoint {Path.GetFileName(c.Dir)}");
            TryDelete(c.Dir);
        }
    }

    public static string Sha256Of(string path)
    {
        using var stream = InputFile.OpenRead(path, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
