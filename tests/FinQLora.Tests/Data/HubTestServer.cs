using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace FinQLora.Tests.Data;

/// <summary>
/// A small Hub on 127.0.0.1 for the download tests: the tree API (<c>/api/datasets/{repo}/tree/{rev}</c>)
/// and file resolution (<c>/datasets/{repo}/resolve/{rev}/{path}</c>) with Range support. Files can drop
/// the connection after some bytes on their first request, advertise a wrong sha256, or need a token;
/// every request is recorded.
/// </summary>
internal sealed class HubTestServer : IDisposable
{
    public sealed record ServedFile(string Path, byte[] Bytes)
    {
        public int DropFirstAfter { get; init; } = -1;
        public string? AdvertisedSha { get; init; }
        public int FailFirstWith { get; init; }
    }

    public sealed record Seen(string Url, string? Range, bool HadToken, int Status);

    private readonly HttpListener _listener = new();
    private readonly Dictionary<string, List<ServedFile>> _repos = new();
    private readonly HashSet<string> _private = new();
    private readonly HashSet<string> _served = new();
    private readonly Task _loop;
    public const string Token = "hf_secret_test_token";
    public List<Seen> Requests { get; } = [];

    /// <summary>Paths answered with a 302 to the given Location (absolute or relative).</summary>
    public Dictionary<string, string> Redirects { get; } = new();

    /// <summary>Every tree listing says the next page is the same cursor URL (a listing that never ends).</summary>
    public bool RepeatNextLink { get; set; }

    /// <summary>How long every answer is held back (a Hub that does not answer in time).</summary>
    public TimeSpan Stall { get; set; }
    public string Endpoint { get; }

    public HubTestServer()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        Endpoint = $"http://127.0.0.1:{port}";
        _listener.Prefixes.Add(Endpoint + "/");
        _listener.Start();
        _loop = Task.Run(Loop);
    }

    public void Add(string repo, ServedFile file, bool isPrivate = false)
    {
        if (!_repos.TryGetValue(repo, out var list)) _repos[repo] = list = [];
        list.Add(file);
        if (isPrivate) _private.Add(repo);
    }

    private async Task Loop()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await _listener.GetContextAsync(); }
            catch { return; }
            try { Handle(ctx); }
            catch { try { ctx.Response.Abort(); } catch { } }
        }
    }

    private void Handle(HttpListenerContext ctx)
    {
        if (Stall > TimeSpan.Zero) Thread.Sleep(Stall);
        var path = Uri.UnescapeDataString(ctx.Request.Url!.AbsolutePath);
        bool hadToken = ctx.Request.Headers["Authorization"] == $"Bearer {Token}";
        var range = ctx.Request.Headers["Range"];
        void Status(int code, string body = "")
        {
            lock (Requests) Requests.Add(new Seen(ctx.Request.Url.PathAndQuery, range, hadToken, code));
            ctx.Response.StatusCode = code;
            var bytes = Encoding.UTF8.GetBytes(body);
            ctx.Response.ContentLength64 = bytes.Length;
            ctx.Response.OutputStream.Write(bytes);
            ctx.Response.Close();
        }
        if (Redirects.TryGetValue(path, out var location))
        {
            ctx.Response.Headers["Location"] = location;
            Status(302);
            return;
        }
        string? repo = _repos.Keys.FirstOrDefault(r => path.StartsWith($"/api/datasets/{r}/", StringComparison.Ordinal) || path.StartsWith($"/datasets/{r}/", StringComparison.Ordinal));
        if (repo is null) { Status(404, "{\"error\":\"Repository not found\"}"); return; }
        if (_private.Contains(repo) && !hadToken) { Status(401, "{\"error\":\"Invalid credentials\"}"); return; }
        if (path.StartsWith($"/api/datasets/{repo}/tree/", StringComparison.Ordinal))
        {
            var items = new JsonArray([new JsonObject { ["type"] = "directory", ["path"] = "data" }]);
            foreach (var f in _repos[repo])
                items.Add(new JsonObject
                {
                    ["type"] = "file", ["path"] = f.Path, ["size"] = f.Bytes.Length, ["oid"] = "0123456789abcdef0123456789abcdef01234567",
                    ["lfs"] = new JsonObject { ["oid"] = f.AdvertisedSha ?? Convert.ToHexStringLower(SHA256.HashData(f.Bytes)), ["size"] = f.Bytes.Length, ["pointerSize"] = 134 },
                });
            if (RepeatNextLink) ctx.Response.Headers["Link"] = $"<{Endpoint}/api/datasets/{repo}/tree/main?recursive=true&cursor=abc>; rel=\"next\"";
            Status(200, items.ToJsonString());
            return;
        }
        var prefix = $"/datasets/{repo}/resolve/main/";
        var file = path.StartsWith(prefix, StringComparison.Ordinal) ? _repos[repo].FirstOrDefault(f => f.Path == path[prefix.Length..]) : null;
        if (file is null) { Status(404, "{\"error\":\"Entry not found\"}"); return; }
        bool first;
        lock (_served) first = _served.Add(file.Path);
        if (first && file.FailFirstWith != 0) { Status(file.FailFirstWith, "busy"); return; }
        long start = 0;
        if (range is not null && range.StartsWith("bytes=", StringComparison.Ordinal)) start = long.Parse(range[6..].TrimEnd('-').Split('-')[0]);
        lock (Requests) Requests.Add(new Seen(ctx.Request.Url.PathAndQuery, range, hadToken, start > 0 ? 206 : 200));
        var response = ctx.Response;
        if (start > 0)
        {
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {start}-{file.Bytes.Length - 1}/{file.Bytes.Length}";
        }
        response.ContentLength64 = file.Bytes.Length - start;
        if (first && file.DropFirstAfter >= 0)
        {
            response.OutputStream.Write(file.Bytes, (int)start, file.DropFirstAfter);
            response.OutputStream.Flush();
            response.Abort();   // the connection drops mid-file
            return;
        }
        response.OutputStream.Write(file.Bytes, (int)start, (int)(file.Bytes.Length - start));
        response.Close();
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch { }
    }
}
