namespace FinQLora.IO;

/// <summary>Where a path lies relative to a folder, for refusing an input that a write into that folder would replace.</summary>
public static class FolderPath
{
    /// <summary>
    /// True when <paramref name="path"/> is <paramref name="folder"/> or lies below it, as written or with a link at
    /// either end resolved (a link inside the folder is replaced with it; so is a target reached through a linked folder).
    /// </summary>
    public static bool IsWithin(string path, string folder) =>
        Below(Full(path), Full(folder)) || Below(Real(path), Real(folder));

    private static bool Below(string p, string f) => p == f || p.StartsWith(f + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string Full(string path) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));

    private static string Real(string path)
    {
        var full = Full(path);
        try { return (File.Exists(full) ? File.ResolveLinkTarget(full, true) : Directory.ResolveLinkTarget(full, true))?.FullName ?? full; }
        catch (IOException) { return full; }
    }
}
