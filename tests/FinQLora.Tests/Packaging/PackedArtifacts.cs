using System.Diagnostics;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Packaging;

/// <summary>
/// The NuGet packages of this build, packed once for the packaging tests: `dotnet pack` of the solution (the build the
/// tests run on, --no-build) into a temporary folder, with a version of its own (VersionPrefix from
/// Directory.Build.props plus a "-test.TIMESTAMP" suffix), so no earlier package of the same version in a NuGet cache
/// can stand in for it. Deleted afterwards, with the copy restore made in the global packages folder.
/// </summary>
public sealed class PackedArtifacts : IDisposable
{
#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    public string Root { get; } = Fixtures.TempDir();
    public string Folder => Path.Combine(Root, "artifacts");
    public string Version { get; }
    public TimeSpan PackTime { get; }
    private readonly string _globalPackages;

    public PackedArtifacts()
    {
        var prefix = System.Xml.Linq.XDocument.Load(Path.Combine(CliProcess.RepoRoot(), "Directory.Build.props"))
            .Descendants("VersionPrefix").Single().Value;
        var suffix = "test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
        Version = $"{prefix}-{suffix}";
        var clock = Stopwatch.StartNew();
        Shell.Dotnet(CliProcess.RepoRoot(), ["pack", "FinQLora.slnx", "-c", Configuration, "--no-build", "--disable-build-servers", "-o", Folder, $"-p:VersionSuffix={suffix}"]).Succeeded();
        PackTime = clock.Elapsed;
        _globalPackages = Shell.Dotnet(Root, ["nuget", "locals", "global-packages", "--list"]).Succeeded()
            .Stdout.Split(':', 2)[1].Trim();
    }

    /// <summary>The global packages folder (restore's cache); a local source of every package the solution restored.</summary>
    public string GlobalPackages => _globalPackages;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
            foreach (var id in new[] { "finqlora.core", "finqlora.reports" })
            {
                var cached = Path.Combine(_globalPackages, id, Version);
                if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
            }
        }
        catch (IOException) { }  // a leftover in the temp folder is no failure
    }
}
