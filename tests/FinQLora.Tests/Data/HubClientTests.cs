using System.Security.Cryptography;
using FinQLora.Data;
using FinQLora.Hub;
using FinQLora.Tasks;

namespace FinQLora.Tests.Data;

public class HubClientTests
{
    private static byte[] Bytes(int n, int seed = 1)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static HubSettings Local(HubTestServer server, string? token = null) =>
        new() { Endpoint = server.Endpoint, Token = token, FirstBackoff = TimeSpan.FromMilliseconds(5), MaxAttempts = 4, AllowLocalHttp = true };

    [Fact]
    public async Task Lists_parquet_files_with_splits_and_downloads_them_verified()
    {
        using var server = new HubTestServer();
        var train = Bytes(5000, 1);
        var test = Bytes(3000, 2);
        server.Add("TheFinAI/flare-fpb", new("data/train-00000-of-00001.parquet", train));
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", test));
        server.Add("TheFinAI/flare-fpb", new("README.md", [1, 2, 3]));
        using var client = new HubClient(Local(server));
        var files = await client.ListParquetAsync("TheFinAI/flare-fpb");
        Assert.Equal(["train", "test"], files.Select(f => f.Split));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(test)), files[1].Sha256);
        var dir = Fixtures.TempDir();
        var target = Path.Combine(dir, "test.parquet");
        var seen = new List<HubProgress>();
        await client.DownloadAsync(files[1], target, seen.Add);
        Assert.Equal(test, File.ReadAllBytes(target));
        Assert.False(File.Exists(target + ".partial"));
        Assert.Equal(3000, seen[^1].Done);
        Assert.Equal(3000, seen[^1].Total);
    }

    [Fact]
    public async Task A_connection_dropped_mid_file_is_resumed_with_a_range_request()
    {
        using var server = new HubTestServer();
        var data = Bytes(200_000, 3);
        server.Add("o/d", new("data/test-00000-of-00001.parquet", data) { DropFirstAfter = 70_000 });
        using var client = new HubClient(Local(server));
        var file = (await client.ListParquetAsync("o/d")).Single();
        var target = Path.Combine(Fixtures.TempDir(), "x.parquet");
        await client.DownloadAsync(file, target);
        Assert.Equal(data, File.ReadAllBytes(target));
        var gets = server.Requests.Where(r => r.Url.Contains("/resolve/", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, gets.Count);
        Assert.Null(gets[0].Range);
        Assert.StartsWith("bytes=", gets[1].Range);
        long resumedAt = long.Parse(gets[1].Range![6..].TrimEnd('-'));
        Assert.InRange(resumedAt, 1, 70_000);   // whatever reached the disk before the drop was kept
        Assert.Equal(206, gets[1].Status);
    }

    [Fact]
    public async Task An_existing_partial_file_is_continued_not_restarted()
    {
        using var server = new HubTestServer();
        var data = Bytes(10_000, 4);
        server.Add("o/d", new("data/valid-00000-of-00001.parquet", data));
        using var client = new HubClient(Local(server));
        var file = (await client.ListParquetAsync("o/d")).Single();
        Assert.Equal("valid", file.Split);
        var target = Path.Combine(Fixtures.TempDir(), "v.parquet");
        File.WriteAllBytes(target + ".partial", data[..4096]);
        await client.DownloadAsync(file, target);
        Assert.Equal(data, File.ReadAllBytes(target));
        Assert.Equal("bytes=4096-", server.Requests.Single(r => r.Url.Contains("/resolve/", StringComparison.Ordinal)).Range);
    }

    [Fact]
    public async Task A_503_is_retried()
    {
        using var server = new HubTestServer();
        var data = Bytes(1000, 5);
        server.Add("o/d", new("data/test.parquet", data) { FailFirstWith = 503 });
        using var client = new HubClient(Local(server));
        var file = (await client.ListParquetAsync("o/d")).Single();
        var target = Path.Combine(Fixtures.TempDir(), "t.parquet");
        await client.DownloadAsync(file, target);
        Assert.Equal(data, File.ReadAllBytes(target));
        Assert.Equal([503, 200], server.Requests.Where(r => r.Url.Contains("/resolve/", StringComparison.Ordinal)).Select(r => r.Status));
    }

    [Fact]
    public async Task A_401_says_to_set_HF_TOKEN_and_the_token_is_sent_but_never_shown()
    {
        using var server = new HubTestServer();
        server.Add("o/private", new("data/test.parquet", Bytes(100)), isPrivate: true);
        using (var anonymous = new HubClient(Local(server)))
        {
            var e = await Assert.ThrowsAsync<FinQLoraException>(() => anonymous.ListParquetAsync("o/private"));
            Assert.Contains("401", e.Message);
            Assert.Contains("HF_TOKEN", e.Message);
        }
        using (var wrong = new HubClient(Local(server, "hf_wrong_value")))
        {
            var e = await Assert.ThrowsAsync<FinQLoraException>(() => wrong.ListParquetAsync("o/private"));
            Assert.Contains("refused", e.Message);
            Assert.DoesNotContain("hf_wrong_value", e.Message);
        }
        using var right = new HubClient(Local(server, HubTestServer.Token));
        var file = (await right.ListParquetAsync("o/private")).Single();
        var target = Path.Combine(Fixtures.TempDir(), "p.parquet");
        await right.DownloadAsync(file, target);
        Assert.True(server.Requests.Last().HadToken);
        Assert.Equal(2, server.Requests.Count(r => r.Status == 401 && r.Url.Contains("tree", StringComparison.Ordinal)));   // no token, wrong token
    }

    [Fact]
    public async Task A_404_names_the_dataset_and_the_downloader_skips_that_task()
    {
        using var server = new HubTestServer();
        using var client = new HubClient(Local(server));
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync("TheFinAI/flare-nothing"));
        Assert.Contains("TheFinAI/flare-nothing", e.Message);
        Assert.Contains("404", e.Message);
        var log = new List<string>();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)));
        HubDownloader.Download([FlareTasks.Get("fpb"), FlareTasks.Get("convfinqa")], Fixtures.TempDir(), Local(server), log.Add);
        Assert.Contains(log, l => l.StartsWith("convfinqa:", StringComparison.Ordinal) && l.Contains("404", StringComparison.Ordinal));
        // When no task is found at all, the endpoint or revision is wrong: an error, not an empty success.
        var none = Assert.Throws<FinQLoraException>(() => HubDownloader.Download([FlareTasks.Get("convfinqa")], Fixtures.TempDir(), Local(server), _ => { }));
        Assert.Contains("HTTP 404", none.Message);
        Assert.Equal(3, none.ExitCode);
    }

    [Fact]
    public async Task A_checksum_mismatch_deletes_the_partial_file_and_fails()
    {
        using var server = new HubTestServer();
        server.Add("o/d", new("data/test.parquet", Bytes(2048)) { AdvertisedSha = new string('a', 64) });
        using var client = new HubClient(Local(server));
        var file = (await client.ListParquetAsync("o/d")).Single();
        var target = Path.Combine(Fixtures.TempDir(), "t.parquet");
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.DownloadAsync(file, target));
        Assert.Contains("sha256 mismatch", e.Message);
        Assert.False(File.Exists(target));
        Assert.False(File.Exists(target + ".partial"));
    }

    [Fact]
    public async Task Server_file_names_that_leave_the_folder_are_refused()
    {
        foreach (var bad in new[] { "../evil.parquet", "/etc/passwd", "data/../../x.parquet", "C:/x.parquet", "a\\b.parquet", "a//b.parquet", "a/\u0001.parquet" })
            Assert.Throws<FinQLoraException>(() => SafePath.Under("/tmp/root", bad));
        Assert.Equal(Path.Combine("/tmp/root", "data", "test.parquet"), SafePath.Under("/tmp/root", "data/test.parquet"));
        using var server = new HubTestServer();
        server.Add("o/d", new("data/../../evil/test.parquet", Bytes(10)));
        using var client = new HubClient(Local(server));
        await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync("o/d"));
    }

    [Theory]
    [InlineData("http://example.com", false, false)]
    [InlineData("http://example.com", true, false)]
    [InlineData("http://127.0.0.1:8080", false, false)]
    [InlineData("http://127.0.0.1:8080", true, true)]
    [InlineData("http://localhost:8080", true, true)]
    [InlineData("http://[::1]:8080", true, true)]
    [InlineData("http://127.0.0.1.example.com", true, false)]
    [InlineData("https://huggingface.co", false, true)]
    [InlineData("ftp://huggingface.co", true, false)]
    public void Plain_http_only_to_this_machine_and_only_when_allowed(string endpoint, bool allow, bool ok)
    {
        var settings = new HubSettings { Endpoint = endpoint, AllowLocalHttp = allow };
        if (ok) Assert.NotNull(settings.EndpointUri());
        else Assert.Throws<FinQLoraException>(() => settings.EndpointUri());
    }

    [Fact]
    public void Settings_come_from_HF_ENDPOINT_and_HF_TOKEN()
    {
        var env = new Dictionary<string, string?> { ["HF_ENDPOINT"] = "https://mirror.example/", ["HF_TOKEN"] = " hf_x " };
        var s = HubSettings.FromEnvironment(k => env.GetValueOrDefault(k), _ => "hf_from_file");
        Assert.Equal("https://mirror.example", s.Endpoint);
        Assert.Equal("hf_x", s.Token);
        var d = HubSettings.FromEnvironment(_ => null, _ => null);
        Assert.Equal("https://huggingface.co", d.Endpoint);
        Assert.Null(d.Token);
    }

    [Theory]
    [InlineData("data/train-00000-of-00001.parquet", "train")]
    [InlineData("data/validation-00000-of-00001-abc.parquet", "valid")]
    [InlineData("default/test/0000.parquet", "test")]
    [InlineData("default/validation/0.parquet", "valid")]
    [InlineData("valid.parquet", "valid")]
    [InlineData("data/extra-0.parquet", null)]
    public void Splits_follow_the_hub_layout(string path, string? split) => Assert.Equal(split, HubSplits.Infer(path));

    [Fact]
    public void Prepare_data_from_the_local_hub_writes_rows_and_a_manifest()
    {
        using var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)) { DropFirstAfter = 100 });
        server.Add("TheFinAI/flare-fpb", new("data/train-00000-of-00001.parquet", ParquetTests.FpbParquet(5)));
        var cache = Fixtures.TempDir();
        var output = Fixtures.TempDir();
        var tasks = new[] { FlareTasks.Get("fpb"), FlareTasks.Get("convfinqa") };
        var src = HubDownloader.Download(tasks, cache, Local(server), _ => { });
        var result = DatasetPreparer.PrepareLocal(src, output, tasks, skipBadRows: false);
        Assert.Equal(3, result[0].Splits["test"].Rows);
        Assert.Equal(5, result[0].Splits["train"].Rows);
        Assert.NotNull(result[1].NoDataReason);
        var manifest = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(output, "manifest.json")))!;
        Assert.Equal("no data", manifest["tasks"]!["convfinqa"]!["status"]!.GetValue<string>());
        Assert.Equal(HubClient.Sha256Of(Path.Combine(output, "fpb", "test.jsonl")), manifest["tasks"]!["fpb"]!["splits"]!["test"]!["sha256"]!.GetValue<string>());
        // a second run finds the verified files in the cache and downloads nothing
        int before = server.Requests.Count(r => r.Url.Contains("/resolve/", StringComparison.Ordinal));
        HubDownloader.Download(tasks, cache, Local(server), _ => { });
        Assert.Equal(before, server.Requests.Count(r => r.Url.Contains("/resolve/", StringComparison.Ordinal)));
    }
}
