using FinQLora.IO;

namespace FinQLora.Data;

/// <summary>
/// How prepare-data replaces an earlier preparation without ever showing a mix of old and new splits:
/// the new task folders and manifest are written into a staging folder inside OUTPUT
/// (<c>.prepare.tmp-PID-N</c>); then <c>.incomplete</c> is written, the earlier folders of the tasks being
/// prepared are removed (so no stale split of theirs survives), the new ones moved in, the
/// manifest moved in, and <c>.incomplete</c> removed. A run killed in between leaves <c>.incomplete</c>,
/// which readers refuse (<see cref="ThrowIfIncomplete"/>) until prepare-data runs again; a killed run's
/// staging folder is removed by the next one. Other entries of OUTPUT (the Hub cache) are never touched,
/// and a preparation whose sources lie where it would write is refused before anything is written.
/// </summary>
public sealed class PreparedFolder
{
    public const string Manifest = "manifest.json";
    public const string IncompleteMarker = ".incomplete";

    public string Output { get; }

    /// <summary>Where this preparation writes before the switch.</summary>
    public string Staging { get; }

    private PreparedFolder(string output, string staging) { Output = output; Staging = staging; }

    /// <summary>
    /// Starts a preparation of <paramref name="taskNames"/> into <paramref name="output"/> from <paramref name="sourceFiles"/>:
    /// refuses sources that the switch would replace, removes staging folders of killed runs.
    /// </summary>
    public static PreparedFolder Begin(string output, string source, IEnumerable<string> taskNames, IEnumerable<string> sourceFiles)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        if (full == Path.TrimEndingDirectorySeparator(Path.GetFullPath(source)))
            throw new FinQLoraException($"the output folder {output} is the source folder: prepared files would replace the source files; choose another output folder", exitCode: 2);
        var replaced = taskNames.Select(t => Path.Combine(full, t)).ToList();
        var manifest = Path.Combine(full, Manifest);
        foreach (var f in sourceFiles.Select(Path.GetFullPath))
            if (f == manifest || replaced.Any(r => FolderPath.IsWithin(f, r)))
                throw new FinQLoraException($"the source file {f} lies in the output folder {output}, where the prepared files go (it would be replaced): choose an output folder that holds no source files", exitCode: 2);
        Directory.CreateDirectory(full);
        foreach (var orphan in Directory.GetDirectories(full, ".prepare.tmp-*").Where(AtomicFile.IsOrphan))
            Directory.Delete(orphan, recursive: true);
        var staging = AtomicFile.TemporaryPathFor(Path.Combine(full, "prepare"));
        Directory.CreateDirectory(staging);
        return new PreparedFolder(full, staging);
    }

    /// <summary>Publishes the staged preparation (see the class comment for the order).</summary>
    public void Commit(IEnumerable<string> taskNames)
    {
        var marker = Path.Combine(Output, IncompleteMarker);
        AtomicFile.WriteAllText(marker, "prepare-data is replacing this folder's splits; if it was killed, run it again\n");
        foreach (var t in taskNames)
            if (Directory.Exists(Path.Combine(Output, t))) Directory.Delete(Path.Combine(Output, t), recursive: true);
        foreach (var dir in Directory.GetDirectories(Staging))
            Directory.Move(dir, Path.Combine(Output, Path.GetFileName(dir)));
        File.Move(Path.Combine(Staging, Manifest), Path.Combine(Output, Manifest), overwrite: true);
        File.Delete(marker);
        Directory.Delete(Staging, recursive: true);
        AtomicFile.SyncDirectory(Output);
    }

    /// <summary>Removes the staging folder of a preparation that failed (the earlier one stays as it was).</summary>
    public void Abandon()
    {
        try { if (Directory.Exists(Staging)) Directory.Delete(Staging, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>Refuses a data folder that a killed prepare-data left half-replaced.</summary>
    public static void ThrowIfIncomplete(string dataDir)
    {
        if (File.Exists(Path.Combine(dataDir, IncompleteMarker)))
            throw new FinQLoraException($"{dataDir}: a prepare-data into this folder was interrupted, so its splits are a mix of two preparations; run prepare-data again");
    }
}
