using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FinQLora.Data;
using FinQLora.IO;
using FinQLora.Tasks;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Reliability;

/// <summary>
/// prepare-data never damages what it reads or what an earlier run wrote: an output that is, or holds, a
/// source is refused before anything is written; a run killed at any moment leaves either the earlier
/// preparation or the new one, or a folder marked incomplete that readers refuse; the next run cleans up.
/// </summary>
public sealed class PrepareDataSafetyTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();
    private static readonly string Samples = Path.Combine(AppContext.BaseDirectory, "samples");

    public void Dispose() => Directory.Delete(_dir, true);

    private string CopySamples(string name, params string[] tasks)
    {
        var dest = Path.Combine(_dir, name);
        foreach (var t in tasks)
        {
            Directory.CreateDirectory(Path.Combine(dest, t));
            foreach (var f in Directory.GetFiles(Path.Combine(Samples, t), "*.jsonl")) File.Copy(f, Path.Combine(dest, t, Path.GetFileName(f)));
        }
        return dest;
    }

    private static Dictionary<string, string> Hashes(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(dir, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    [Fact]
    public void An_output_that_is_or_holds_a_source_is_refused_and_the_sources_are_unchanged()
    {
        var source = CopySamples("src", "fpb", "ner");
        var before = Hashes(source);
        // the source folder itself, the same folder spelled differently, and an output whose task folder holds the source files
        string[] outputs = [source, source + "/", Path.Combine(source, "..", "src"), Path.GetDirectoryName(Path.Combine(source, "fpb"))!];
        foreach (var output in outputs)
        {
            var r = CliProcess.Run("prepare-data", "--source", Path.Combine(source), "--output", output, "--tasks", "fpb,ner", "--offline");
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("error:", r.Stderr);
            Assert.Equal(before, Hashes(source));
        }
        // a source below the output's task folder
        var outer = Path.Combine(_dir, "outer");
        Directory.CreateDirectory(Path.Combine(outer, "fpb"));
        Directory.Move(source, Path.Combine(outer, "fpb", "raw"));
        var inner = Path.Combine(outer, "fpb", "raw");
        var e = Assert.Throws<FinQLoraException>(() => DatasetPreparer.PrepareLocal(inner, outer, [FlareTasks.Get("fpb")], false));
        Assert.Contains("lies in the output folder", e.Message);
        Assert.Equal(before, Hashes(inner));
    }

    [Fact]
    public void A_second_preparation_with_fewer_splits_leaves_no_stale_split()
    {
        var output = Path.Combine(_dir, "out");
        DatasetPreparer.PrepareLocal(CopySamples("both", "fpb"), output, [FlareTasks.Get("fpb")], false);
        Assert.True(File.Exists(Path.Combine(output, "fpb", "train.jsonl")));
        var testOnly = CopySamples("testonly", "fpb");
        File.Delete(Path.Combine(testOnly, "fpb", "train.jsonl"));
        DatasetPreparer.PrepareLocal(testOnly, output, [FlareTasks.Get("fpb")], false);
        Assert.False(File.Exists(Path.Combine(output, "fpb", "train.jsonl")));
        Assert.Null(DatasetPreparer.ReadPrepared(output, FlareTasks.Get("fpb"), "train"));
        var manifest = JsonFile.ReadObject(Path.Combine(output, "manifest.json"));
        Assert.Equal(["test"], manifest["tasks"]!["fpb"]!["splits"]!.AsObject().Select(kv => kv.Key));
    }

    [Fact]
    public void A_prepare_data_killed_at_random_moments_never_leaves_a_mix_and_the_next_run_cleans_up()
    {
        var output = Path.Combine(_dir, "out");
        var first = CopySamples("first", "fpb", "ner", "headlines", "finqa");
        var second = CopySamples("second", "fpb", "ner", "headlines", "finqa");
        // the second preparation differs in every split (fewer rows) so a mix would show
        foreach (var f in Directory.GetFiles(second, "*.jsonl", SearchOption.AllDirectories))
            File.WriteAllLines(f, File.ReadAllLines(f).Take(3));
        Assert.Equal(0, CliProcess.Run("prepare-data", "--source", first, "--output", output, "--tasks", "fpb,ner,headlines,finqa", "--offline").ExitCode);
        var rng = new Random(20261202);
        for (int kill = 0; kill < 6; kill++)
        {
            using (var p = CliProcess.Start(new Dictionary<string, string>(), "prepare-data", "--source", second, "--output", output, "--tasks", "fpb,ner,headlines,finqa", "--offline"))
            {
                Thread.Sleep(rng.Next(200, 2500));
                p.Kill();
                p.WaitForExit(TimeSpan.FromMinutes(1));
            }
            if (File.Exists(Path.Combine(output, PreparedFolder.IncompleteMarker)))
                Assert.Contains("interrupted", Assert.Throws<FinQLoraException>(() => DatasetPreparer.ReadPrepared(output, FlareTasks.Get("fpb"), "test")).Message);
            else
            {
                // a complete preparation: every split the manifest lists has its hash, and no other split exists
                var manifest = JsonFile.ReadObject(Path.Combine(output, "manifest.json"));
                foreach (var (task, node) in manifest["tasks"]!.AsObject())
                {
                    var splits = node!["splits"]!.AsObject();
                    foreach (var (_, s) in splits)
                        Assert.Equal(s!["sha256"]!.GetValue<string>(), DatasetPreparer.Sha256(Path.Combine(output, s["file"]!.GetValue<string>())));
                    Assert.Equal(splits.Select(kv => kv.Key + ".jsonl").Order(), Directory.GetFiles(Path.Combine(output, task)).Select(Path.GetFileName).Order()!);
                }
            }
        }
        Assert.Equal(0, CliProcess.Run("prepare-data", "--source", second, "--output", output, "--tasks", "fpb,ner,headlines,finqa", "--offline").ExitCode);
        Assert.Empty(Directory.GetFileSystemEntries(output, ".*"));   // no staging folder of a killed run, no marker
        Assert.Equal(3, DatasetPreparer.ReadPrepared(output, FlareTasks.Get("fpb"), "test")!.Count);
    }
}
