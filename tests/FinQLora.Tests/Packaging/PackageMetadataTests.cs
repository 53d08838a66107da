using System.Xml.Linq;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Packaging;

public class PackageMetadataTests
{
    private static string VersionPrefix() =>
        XDocument.Load(Path.Combine(CliProcess.RepoRoot(), "Directory.Build.props")).Descendants("VersionPrefix").Single().Value;

    [Fact]
    public void The_library_sample_references_the_version_the_repository_packs()
    {
        var sample = XDocument.Load(Path.Combine(CliProcess.RepoRoot(), "samples", "LibraryQuickstart", "LibraryQuickstart.csproj"));
        Assert.Equal(VersionPrefix(), sample.Descendants("FinQLoraVersion").Single().Value);
    }

    [Fact]
    public void The_readme_installs_the_tool_from_the_artifacts_folder_dotnet_pack_writes()
    {
        var readme = File.ReadAllText(Path.Combine(CliProcess.RepoRoot(), "README.md"));
        Assert.Contains("dotnet pack -c Release", readme);
        Assert.Contains("dotnet tool install --global FinQLora --add-source ./artifacts", readme);
        var props = XDocument.Load(Path.Combine(CliProcess.RepoRoot(), "Directory.Build.props"));
        Assert.Equal("$(MSBuildThisFileDirectory)artifacts/", props.Descendants("PackageOutputPath").Single().Value);
    }
}
