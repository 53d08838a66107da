namespace FinQLora.Tests.Config;

/// <summary>Files of the repository itself (configs/, docs/), found by walking up from the test binaries to FinQLora.slnx.</summary>
internal static class RepoFiles
{
    private static readonly Lazy<string> _root = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "FinQLora.slnx"))) return dir.FullName;
        throw new InvalidOperationException("FinQLora.slnx not found above " + AppContext.BaseDirectory);
    });

    public static string Path(params string[] parts) => System.IO.Path.Combine([_root.Value, .. parts]);
}
