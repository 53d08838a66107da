using FinQLora.IO;

namespace FinQLora.Config;

/// <summary>
/// The files a user starts from, embedded in the library: the shipped configs (<c>configs/*.yaml</c>: the quickstart,
/// the two stages, the curriculum and the model they include) and the bundled FLARE samples the quickstart reads
/// (<c>samples/&lt;task&gt;/{train,test}.jsonl</c> with their sources and licences). <see cref="WriteTo"/> lays them
/// out as in the repository, so in the folder written, <c>configs/quickstart.yaml</c> runs as it does in a clone
/// (its paths are relative to the working directory; its includes to the config file). This is what
/// <c>finqlora init</c> does, and how an installed tool or a program using the NuGet package gets the quickstart.
/// </summary>
public static class StarterKit
{
    private const string Prefix = "FinQLora.starter/";

    /// <summary>The quickstart config, relative to the folder <see cref="WriteTo"/> fills.</summary>
    public static readonly string QuickstartConfig = Path.Combine("configs", "quickstart.yaml");

    /// <summary>Every file of the kit, as a path relative to the folder it is written to ('/'-separated), in ordinal order.</summary>
    public static IReadOnlyList<string> Files { get; } =
        typeof(StarterKit).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(Prefix, StringComparison.Ordinal))
            .Select(n => n[Prefix.Length..]).Order(StringComparer.Ordinal).ToArray();

    /// <summary>The kit's files that already exist under <paramref name="dir"/> (relative paths).</summary>
    public static IReadOnlyList<string> ExistingIn(string dir) =>
        Files.Where(f => File.Exists(Path.Combine(dir, f)) || Directory.Exists(Path.Combine(dir, f))).ToArray();

    /// <summary>
    /// Writes every file of the kit under <paramref name="dir"/> (created if missing) and returns their full paths.
    /// Files of the kit already there are replaced only when <paramref name="overwrite"/>; otherwise nothing is
    /// written. Other files in the folder are never touched.
    /// </summary>
    public static IReadOnlyList<string> WriteTo(string dir, bool overwrite = false)
    {
        if (Files.Count == 0) throw new InvalidOperationException($"no embedded resources under {Prefix} in the build of {typeof(StarterKit).Assembly.GetName().Name}");
        if (File.Exists(dir)) throw new FinQLoraException($"{dir} is a file; give a folder to write the configs and samples into", 2);
        var existing = ExistingIn(dir);
        if (existing.Count > 0 && !overwrite)
            throw new FinQLoraException($"{dir} already holds {Describe(existing)}: nothing was written. Overwrite them, or choose another folder", 2);
        var written = new List<string>(Files.Count);
        foreach (var file in Files)
        {
            var path = Path.GetFullPath(Path.Combine(dir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using var source = typeof(StarterKit).Assembly.GetManifestResourceStream(Prefix + file)!;
            AtomicFile.Write(path, source.CopyTo);
            written.Add(path);
        }
        return written;
    }

    /// <summary>"configs/quickstart.yaml, configs/stage1.yaml and 20 more of the starter files".</summary>
    public static string Describe(IReadOnlyList<string> files) =>
        files.Count <= 3
            ? $"{string.Join(", ", files)} (of the starter files)"
            : $"{string.Join(", ", files.Take(3))} and {files.Count - 3} more of the starter files";
}
