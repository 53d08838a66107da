using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Data;

public class DataCommandsTests
{
    [Fact]
    public void Prepare_data_downloads_from_HF_ENDPOINT_with_HF_TOKEN_and_never_prints_it()
    {
        using var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)) { DropFirstAfter = 50 }, isPrivate: true);
        var output = Fixtures.TempDir();
        var env = new Dictionary<string, string> { ["HF_ENDPOINT"] = server.Endpoint, ["HF_TOKEN"] = HubTestServer.Token };
        var r = CliProcess.RunWith(env, "prepare-data", "--tasks", "fpb,convfinqa", "--output", output, "--allow-http");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("fpb        test: 3", r.Stdout);
        Assert.Contains("convfinqa  no data", r.Stdout);
        Assert.DoesNotContain(HubTestServer.Token, r.Stdout + r.Stderr);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "fpb", "test.jsonl")).Length);
        var denied = CliProcess.RunWith(new Dictionary<string, string> { ["HF_ENDPOINT"] = server.Endpoint, ["HF_TOKEN"] = "hf_not_it" }, "prepare-data", "--tasks", "fpb", "--output", Fixtures.TempDir(), "--allow-http");
        Assert.Equal(3, denied.ExitCode);
        Assert.Contains("the token from HF_TOKEN was refused", denied.Stderr);
        Assert.DoesNotContain("hf_not_it", denied.Stdout + denied.Stderr);
    }

    [Fact]
    public void Offline_without_a_source_says_what_to_do()
    {
        var r = CliProcess.Run("prepare-data", "--offline", "--output", Fixtures.TempDir());
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--offline needs --source", r.Stderr);
    }

    [Fact]
    public void Data_stats_over_the_samples_prints_every_task_and_writes_the_figure()
    {
        var output = Fixtures.TempDir();
        var r = CliProcess.Run("data", "stats", "--data", Path.Combine(AppContext.BaseDirectory, "samples"), "--model", Fixtures.TinyModel, "--tasks", "fpb,ner", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("fpb        train", r.Stdout);
        Assert.Contains("ner        test", r.Stdout);
        Assert.True(new FileInfo(Path.Combine(output, "length-histogram.png")).Length > 10_000);
        var stats = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "stats.json")))!.AsArray();
        Assert.Equal(4, stats.Count);
        Assert.Equal(40, stats[0]!["rows"]!.GetValue<int>());
    }
}
