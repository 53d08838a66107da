using System.Diagnostics;
using System.Text.Json.Nodes;
using FinQLora.Tests.Cli;
using Xunit.Abstractions;

namespace FinQLora.Tests.Packaging;

/// <summary>
/// The packages as a user gets them (README "Install", docs/API.md): the `finqlora` tool installed with
/// `dotnet tool install --tool-path` runs `env`, `init` and the quickstart from a folder outside the repository,
/// with HOME a fresh folder and, where the tests run as root, the repository hidden (a private mount namespace
/// with an empty tmpfs over it), so every file the tool needs must come from the package. And the library sample
/// (samples/LibraryQuickstart) restores and builds against the FinQLora.Core package.
/// </summary>
public sealed class PackageTests(PackedArtifacts packed, ITestOutputHelper output) : IClassFixture<PackedArtifacts>
{
    [Fact]
    public void The_installed_tool_runs_env_init_and_the_quickstart_with_the_repository_out_of_reach()
    {
        output.WriteLine($"dotnet pack (--no-build): {packed.PackTime.TotalSeconds:F0} s");
        var tools = Path.Combine(packed.Root, "tools");
        var clock = Stopwatch.StartNew();
        Shell.Dotnet(packed.Root, ["tool", "install", "FinQLora", "--version", packed.Version, "--tool-path", tools, "--add-source", packed.Folder]).Succeeded();
        output.WriteLine($"dotnet tool install: {clock.Elapsed.TotalSeconds:F0} s");
        var home = Directory.CreateDirectory(Path.Combine(packed.Root, "home")).FullName;
        var work = Directory.CreateDirectory(Path.Combine(packed.Root, "work")).FullName;
        output.WriteLine(RepositoryHidden ? "the repository is hidden from the tool" : "the repository stays visible (not root, or no unshare)");

        var env = Finqlora(tools, work, home, "env").Succeeded();
        // the package's own CPU libtorch, from the tool's folder (and on Debian 12 through the libstdc++ shim it carries)
        Assert.Contains($"libtorch:    ", env.Stdout);
        Assert.Contains(tools, env.Stdout.Split('\n').Single(l => l.StartsWith("libtorch:", StringComparison.Ordinal)));

        Finqlora(tools, work, home, "init", "qs").Succeeded();
        var folder = Path.Combine(work, "qs");
        clock.Restart();
        // the quickstart as shipped, shortened (2 steps a stage, 1 evaluation row a task): every part runs, CI stays quick
        var run = Finqlora(tools, folder, home, "curriculum", "--config", "configs/quickstart.yaml",
            "--set", "training.max_steps=2", "--set", "evaluation.limit=1").Succeeded();
        output.WriteLine($"quickstart (shortened) from the installed tool: {clock.Elapsed.TotalSeconds:F0} s");
        var runs = Path.Combine(folder, "runs", "quickstart");
        Assert.Contains($"outputs: {runs}", run.Stdout);
        Assert.True(File.Exists(Path.Combine(home, ".cache", "finqlora", "tiny-llama3-random", "model.safetensors")), "the tiny model under ~/.cache/finqlora");
        foreach (var stage in new[] { "stage1", "stage2" })
            Assert.True(File.Exists(Path.Combine(runs, stage, "adapter", "adapter_model.safetensors")), stage);
        Assert.Equal(7, JsonNode.Parse(File.ReadAllText(Path.Combine(runs, "eval", "metrics.json")))!.AsObject().Count);
        foreach (var f in new[] { "training_curves.png", "performance_comparison.png", "results.tex", "report.html" })
            Assert.True(File.Exists(Path.Combine(runs, "report", f)), f);
    }

    [Fact]
    public void The_library_sample_builds_against_the_FinQLora_Core_package()
    {
        var sample = Path.Combine(packed.Root, "LibraryQuickstart");
        var source = Path.Combine(CliProcess.RepoRoot(), "samples", "LibraryQuickstart");
        Directory.CreateDirectory(sample);
        foreach (var f in Directory.GetFiles(source))
            File.Copy(f, Path.Combine(sample, Path.GetFileName(f)));
        var clock = Stopwatch.StartNew();
        // only the packages just made and those the solution restored: no network, and no older FinQLora.Core from a cache
        Shell.Dotnet(sample, ["build", "-c", "Release", "--disable-build-servers", $"-p:FinQLoraVersion={packed.Version}",
            $"-p:RestoreSources={packed.Folder}%3B{packed.GlobalPackages}"]).Succeeded();
        output.WriteLine($"sample restore + build: {clock.Elapsed.TotalSeconds:F0} s");
        Assert.True(File.Exists(Path.Combine(sample, "bin", "Release", "net10.0", "linux-x64", "LibraryQuickstart.dll")));
        var assets = JsonNode.Parse(File.ReadAllText(Path.Combine(sample, "obj", "project.assets.json")))!;
        Assert.NotNull(assets["libraries"]![$"FinQLora.Core/{packed.Version}"]);
        Assert.Equal("package", (string?)assets["libraries"]![$"FinQLora.Core/{packed.Version}"]!["type"]);
    }

    private static readonly Lazy<bool> CanHide = new(() =>
        Environment.UserName == "root" && File.Exists("/usr/bin/unshare")
        && Shell.Run("/usr/bin/unshare", "/", ["-m", "true"]).ExitCode == 0);

    private bool RepositoryHidden => CanHide.Value && !packed.Root.StartsWith(CliProcess.RepoRoot() + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The installed `finqlora`, run in <paramref name="cwd"/> with HOME=<paramref name="home"/>; the repository hidden where possible.</summary>
    private Shell.Result Finqlora(string tools, string cwd, string home, params string[] args)
    {
        var env = new Dictionary<string, string> { ["HOME"] = home };
        var tool = Path.Combine(tools, "finqlora");
        return RepositoryHidden
            ? Shell.Run("/usr/bin/unshare", cwd, ["-m", "sh", "-c", "mount -t tmpfs none \"$0\" && exec \"$@\"", CliProcess.RepoRoot(), tool, .. args], env)
            : Shell.Run(tool, cwd, args, env);
    }
}
