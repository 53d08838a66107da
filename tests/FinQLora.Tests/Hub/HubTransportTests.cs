using System.Net;
using System.Security.Cryptography;
using FinQLora.Hub;
using FinQLora.Tests.Data;

namespace FinQLora.Tests.Hub;

/// <summary>
/// docs/ERRORS.md, "Security" and "Bounded inputs": HubClient follows redirects itself (every hop passes the
/// HTTPS rule, the token stays with the Hub's own host), caps JSON answers and listing pages, and still
/// streams large files to disk.
/// </summary>
public class HubTransportTests
{
    private const string Token = "hf_transport_secret";
    private const string Repo = "TheFinAI/flare-fpb";

    private static HubSettings Remote(string? token = Token) =>
        new() { Endpoint = "https://hub.test", Token = token, MaxAttempts = 1, FirstBackoff = TimeSpan.FromMilliseconds(1), Timeout = TimeSpan.FromSeconds(30) };

    private static CancellationToken Deadline() => new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    [Fact]
    public async Task A_redirect_from_the_local_server_to_a_remote_plain_http_host_is_refused()
    {
        using var server = new HubTestServer();
        server.Add(Repo, new("data/test-00000-of-00001.parquet", [1, 2, 3]));
        server.Redirects[$"/api/datasets/{Repo}/tree/main"] = "http://example.invalid/api/tree";
        var settings = new HubSettings { Endpoint = server.Endpoint, AllowLocalHttp = true, MaxAttempts = 1, Timeout = TimeSpan.FromSeconds(5) };
        using var client = new HubClient(settings);
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync(Repo, Deadline()));
        Assert.Equal(2, e.ExitCode);
        Assert.Equal("refusing http:// to example.invalid: the Hub is reached over HTTPS only (plain HTTP only to this machine, with --allow-http)", e.Message);
    }

    [Fact]
    public async Task Every_redirect_hop_is_checked_and_the_remote_host_is_never_contacted()
    {
        using var handler = new ScriptedHandler(r => r.RequestUri!.Host == "hub.test"
            ? ScriptedHandler.Redirect("http://10.1.2.3/datasets/file.parquet")
            : new HttpResponseMessage(HttpStatusCode.OK));
        using var client = new HubClient(Remote(), handler);
        var file = new HubFile(Repo, "data/test.parquet", "test", 3, null);
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.DownloadAsync(file, Path.Combine(Fixtures.TempDir(), "t.parquet"), ct: Deadline()));
        Assert.Equal(2, e.ExitCode);
        Assert.StartsWith("refusing http:// to 10.1.2.3", e.Message);
        Assert.All(handler.Requests, r => Assert.Equal("hub.test", r.Url.Host));
    }

    [Fact]
    public async Task A_redirect_to_the_cdn_downloads_without_the_token_and_relative_locations_keep_it()
    {
        var bytes = new byte[5000];
        new Random(7).NextBytes(bytes);
        string sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        string advertised = sha;
        using var handler = new ScriptedHandler(r =>
        {
            var u = r.RequestUri!;
            if (u.Host == "cdn.test") return new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent(bytes) };
            if (u.AbsolutePath.StartsWith("/datasets/", StringComparison.Ordinal)) return ScriptedHandler.Redirect("/moved" + u.AbsolutePath, HttpStatusCode.TemporaryRedirect);
            var toCdn = ScriptedHandler.Redirect("https://cdn.test/blob/abc?sig=1");
            toCdn.Headers.TryAddWithoutValidation("X-Linked-Etag", $"\"{advertised}\"");   // the Hub's LFS sha256 rides on its redirect
            return toCdn;
        });
        using var client = new HubClient(Remote(), handler);
        var file = new HubFile(Repo, "data/test.parquet", "test", null, null);
        var target = Path.Combine(Fixtures.TempDir(), "test.parquet");
        await client.DownloadAsync(file, target, ct: Deadline());
        Assert.Equal(bytes, File.ReadAllBytes(target));
        Assert.Equal(
            [$"https://hub.test/datasets/{Repo}/resolve/main/data/test.parquet", $"https://hub.test/moved/datasets/{Repo}/resolve/main/data/test.parquet", "https://cdn.test/blob/abc?sig=1"],
            handler.Requests.Select(r => r.Url.ToString()));
        Assert.Equal([$"Bearer {Token}", $"Bearer {Token}", null], handler.Requests.Select(r => r.Authorization));

        // The sha256 from the redirect is the one checked: a CDN body that does not match it is refused.
        advertised = new string('0', 64);
        var target2 = Path.Combine(Fixtures.TempDir(), "test.parquet");
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.DownloadAsync(file, target2, ct: Deadline()));
        Assert.Contains($"sha256 mismatch (expected {advertised}, got {sha})", e.Message);
    }

    [Fact]
    public async Task More_than_ten_redirects_stop_with_a_clear_error()
    {
        int n = 0;
        using var handler = new ScriptedHandler(_ => ScriptedHandler.Redirect($"/loop/{++n}"));
        using var client = new HubClient(Remote(), handler);
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync(Repo, Deadline()));
        Assert.Equal(3, e.ExitCode);
        Assert.Contains("more than 10 redirects", e.Message);
        Assert.Equal(11, handler.Requests.Count);   // the first request and 10 redirects followed
    }

    [Fact]
    public async Task A_listing_whose_next_link_repeats_stops_instead_of_looping()
    {
        using var server = new HubTestServer { RepeatNextLink = true };
        server.Add(Repo, new("data/test-00000-of-00001.parquet", [1, 2, 3]));
        using var client = new HubClient(new HubSettings { Endpoint = server.Endpoint, AllowLocalHttp = true, MaxAttempts = 1 });
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync(Repo, Deadline()));
        Assert.Equal(3, e.ExitCode);
        Assert.Contains("sent the same next-page link twice", e.Message);
        Assert.Equal(2, server.Requests.Count);   // the first page and the cursor page, once each
    }

    [Fact]
    public async Task A_listing_with_endless_new_pages_stops_at_ten_thousand()
    {
        int pages = 0;
        using var handler = new ScriptedHandler(_ =>
        {
            var page = ScriptedHandler.Json("[]");
            page.Headers.TryAddWithoutValidation("Link", $"<https://hub.test/api/datasets/{Repo}/tree/main?cursor={++pages}>; rel=\"next\"");
            return page;
        });
        using var client = new HubClient(Remote(), handler);
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync(Repo, Deadline()));
        Assert.Equal(3, e.ExitCode);
        Assert.Contains("more than 10,000 pages", e.Message);
        Assert.Equal(10_000, pages);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_json_answer_over_64_MiB_is_refused_announced_or_not(bool announced)
    {
        const long size = (64L << 20) + 1;
        int requests = 0;
        using var handler = new ScriptedHandler(_ =>
        {
            requests++;
            var content = new StreamContent(new RepeatedByteStream(size, (byte)' '));
            if (announced) content.Headers.ContentLength = size;
            else content.Headers.ContentLength = null;
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        });
        using var client = new HubClient(Remote() with { MaxAttempts = 3 }, handler);
        var e = await Assert.ThrowsAsync<FinQLoraException>(() => client.ListParquetAsync(Repo, Deadline()));
        Assert.Equal(3, e.ExitCode);
        Assert.Equal($"{Repo}: the Hub at hub.test sent a JSON answer larger than 64 MiB; refusing it (a broken server or proxy?)", e.Message);
        Assert.Equal(1, requests);   // not retried
    }

    [Fact]
    public async Task A_file_larger_than_the_json_cap_still_streams_to_disk()
    {
        const long size = (64L << 20) + 4096;
        using var handler = new ScriptedHandler(_ => new HttpResponseMessage(HttpStatusCode.OK)
            { Content = new StreamContent(new RepeatedByteStream(size, 0x5A)) { Headers = { ContentLength = size } } });
        using var client = new HubClient(Remote(), handler);
        var target = Path.Combine(Fixtures.TempDir(), "big.parquet");
        await client.DownloadAsync(new HubFile(Repo, "data/big.parquet", "train", size, null), target, ct: Deadline());
        Assert.Equal(size, new FileInfo(target).Length);
        File.Delete(target);
    }
}
