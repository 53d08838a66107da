using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using FinQLora.IO;

namespace FinQLora.Hub;

/// <summary>Progress of one file: bytes on disk so far (a resumed file starts above 0) of the total, if known.</summary>
public sealed record HubProgress(string Path, long Done, long? Total);

/// <summary>
/// The Hub's HTTP API for datasets: lists a dataset's Parquet files (tree API, falling back to the
/// /parquet conversion listing) and downloads them — resumably (a <c>.partial</c> file continued with
/// an HTTP Range request), verified against the LFS sha256 or a sha256 ETag when the Hub gives one,
/// and retried with exponential backoff on dropped connections, 429 and 5xx. 401/403/404 are not
/// retried; their messages say what to do. Redirects are followed here, not by HttpClient (at most
/// <see cref="MaxRedirects"/>), so that every hop passes <see cref="HubSettings.CheckScheme"/>; the token
/// goes only to the endpoint's scheme, host and port (a redirect to the CDN drops it) and is never part of
/// a message. JSON answers are capped at <see cref="MaxJsonBytes"/> and listings at
/// <see cref="MaxListingPages"/> pages; file downloads stream to disk.
/// </summary>
public sealed class HubClient : IDisposable
{
    public const int MaxRedirects = 10;
    public const int MaxListingPages = 10_000;
    public const long MaxJsonBytes = 64L << 20;

    private readonly HubSettings _settings;
    private readonly Uri _endpoint;
    private readonly HttpClient _http;

    public HubClient(HubSettings settings, HttpMessageHandler? handler = null)
    {
        _settings = settings;
        _endpoint = settings.EndpointUri();
        HubSettings.CheckToken(settings.Token, settings.TokenSource);
        // Automatic redirects would skip CheckScheme (a local server could send us to a remote plain-HTTP host).
        _http = handler is null ? new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false }) : new HttpClient(handler, disposeHandler: false);
        _http.Timeout = settings.Timeout;
        _http.MaxResponseContentBufferSize = MaxJsonBytes;
        _http.DefaultRequestHeaders.UserAgent.ParseAdd("finqlora/1.0");
    }

    public void Dispose() => _http.Dispose();

    /// <summary>The dataset's Parquet files with their splits (files of no known split are left out).</summary>
    public async Task<IReadOnlyList<HubFile>> ListParquetAsync(string repo, CancellationToken ct = default)
    {
        CheckRepo(repo);
        var files = new List<HubFile>();
        string? next = $"api/datasets/{repo}/tree/{Uri.EscapeDataString(_settings.Revision)}?recursive=true";
        var pages = new HashSet<string>(StringComparer.Ordinal);
        while (next is not null)
        {
            if (!pages.Add(next))
                throw new FinQLoraException($"{repo}: the Hub at {_endpoint.Host} sent the same next-page link twice in the file listing; stopping (a broken server or proxy?)", exitCode: 3);
            if (pages.Count > MaxListingPages)
                throw new FinQLoraException($"{repo}: the file listing from {_endpoint.Host} has more than {MaxListingPages:N0} pages; stopping (a broken server or proxy?)", exitCode: 3);
            var (body, link) = await GetJsonAsync(next, repo, ct);
            foreach (var item in body as JsonArray ?? throw new FinQLoraException($"{repo}: unexpected tree listing from {_endpoint.Host}"))
            {
                if (item is not JsonObject entry || JsonFile.String(entry["type"]) != "file") continue;
                var path = JsonFile.String(entry["path"]) ?? "";
                if (!path.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)) continue;
                SafePath.Relative(path);
                if (HubSplits.Infer(path) is not { } split) continue;
                var lfs = entry["lfs"] as JsonObject;
                long? size = Size(lfs?["size"]) ?? Size(entry["size"]);
                var sha = JsonFile.String(lfs?["oid"]);
                files.Add(new HubFile(repo, path, split, size, IsSha256(sha) ? sha!.ToLowerInvariant() : null));
            }
            next = link;
        }
        if (files.Count > 0) return files;
        // No Parquet in the repository itself: the Hub's automatic conversion lists URLs per config and split.
        var (conv, _) = await GetJsonAsync($"api/datasets/{repo}/parquet", repo, ct);
        foreach (var (config, splits) in conv as JsonObject ?? [])
            foreach (var (splitName, urls) in splits as JsonObject ?? [])
            {
                if (HubSplits.Normalize(splitName) is not { } split) continue;
                int n = 0;
                foreach (var url in urls as JsonArray ?? [])
                    files.Add(new HubFile(repo, $"{SafeSegment(config)}/{SafeSegment(splitName)}/{n++}.parquet", split, null, null)
                        { Url = JsonFile.String(url) ?? throw new FinQLoraException($"{repo}: the Hub's parquet listing has a URL that is not a string") });
            }
        return files;
    }

    /// <summary>
    /// Downloads <paramref name="file"/> to <paramref name="target"/> (through target.partial). An existing
    /// target with the expected sha256 (or size) is kept; an existing .partial is continued.
    /// </summary>
    public async Task DownloadAsync(HubFile file, string target, Action<HubProgress>? progress = null, CancellationToken ct = default)
    {
        if (File.Exists(target) && (file.Sha256 is not null ? Sha256Of(target) == file.Sha256 : file.Size is long s && new FileInfo(target).Length == s))
        {
            progress?.Invoke(new HubProgress(file.Path, new FileInfo(target).Length, file.Size));
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(target))!);
        var partial = target + ".partial";
        var url = FileUrl(file);
        string? etagSha = null;
        for (int attempt = 1; ; attempt++)
        {
            long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
            if (file.Size is long size && have == size) break;
            if (file.Size is long sz && have > sz) { File.Delete(partial); have = 0; }
            try
            {
                var (response, hopSha) = await SendAsync(url, have > 0 ? new RangeHeaderValue(have, null) : null, ct);
                using var owned = response;
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable) { File.Delete(partial); throw new RetryableException("416"); }
                Fail(response, file.Repo, file.Path);
                if (Retryable(response.StatusCode)) throw new RetryableException($"HTTP {(int)response.StatusCode}");
                etagSha ??= hopSha ?? ShaFromHeaders(response);
                bool resumed = response.StatusCode == HttpStatusCode.PartialContent;
                if (!resumed) have = 0;   // the server sent the whole file
                long? total = file.Size ?? (resumed ? response.Content.Headers.ContentRange?.Length : response.Content.Headers.ContentLength);
                await using var body = await response.Content.ReadAsStreamAsync(ct);
                await using var output = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
                var buffer = new byte[81920];
                long done = have;
                progress?.Invoke(new HubProgress(file.Path, done, total));
                int n;
                // HttpClient.Timeout ends at the headers: a body that stalls is timed out read by read.
                using var stall = CancellationTokenSource.CreateLinkedTokenSource(ct);
                while (true)
                {
                    stall.CancelAfter(_settings.Timeout);
                    if ((n = await body.ReadAsync(buffer, stall.Token)) <= 0) break;
                    await output.WriteAsync(buffer.AsMemory(0, n), ct);
                    done += n;
                    if (total is long announced && done > announced)
                        throw new FinQLoraException($"{file.Repo}/{file.Path}: the server sent more than the {announced:N0} bytes it announced; the partial file is kept, run again", exitCode: 3);
                    progress?.Invoke(new HubProgress(file.Path, done, total));
                }
                if (total is long t && done < t) throw new RetryableException($"connection closed at {done} of {t} bytes");
                break;
            }
            catch (Exception e) when ((e is RetryableException or IOException or HttpRequestException || e is OperationCanceledException && !ct.IsCancellationRequested) && attempt < _settings.MaxAttempts)
            {
                var delay = TimeSpan.FromTicks(Math.Min(_settings.FirstBackoff.Ticks << Math.Min(attempt - 1, 10), TimeSpan.FromSeconds(60).Ticks));
                await Task.Delay(delay, ct);
            }
            catch (Exception e) when (e is RetryableException or IOException or HttpRequestException or OperationCanceledException && !ct.IsCancellationRequested)
            {
                var why = e is OperationCanceledException ? $"no data within {_settings.Timeout.TotalSeconds:0.#} s" : e.Message;
                throw new FinQLoraException($"{file.Repo}/{file.Path}: download failed after {attempt} attempt(s) ({why}); run again to resume from {Path.GetFileName(partial)}", exitCode: 3);
            }
        }
        var expected = file.Sha256 ?? etagSha;
        if (expected is not null)
        {
            var actual = Sha256Of(partial);
            if (actual != expected)
            {
                File.Delete(partial);
                throw new FinQLoraException($"{file.Repo}/{file.Path}: sha256 mismatch (expected {expected}, got {actual}): the download is corrupt; the partial file was deleted, run again", exitCode: 3);
            }
        }
        File.Move(partial, target, overwrite: true);
    }

    public string FileUrl(HubFile file) =>
        file.Url ?? new Uri(_endpoint, $"datasets/{file.Repo}/resolve/{Uri.EscapeDataString(_settings.Revision)}/{string.Join('/', file.Path.Split('/').Select(Uri.EscapeDataString))}").ToString();

    private async Task<(JsonNode? Body, string? Next)> GetJsonAsync(string relative, string repo, CancellationToken ct)
    {
        var url = relative.StartsWith("http", StringComparison.Ordinal) ? relative : new Uri(_endpoint, relative).ToString();
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                // HttpClient.Timeout ends at the headers: the body counts against the same timeout here.
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(_settings.Timeout);
                var (response, _) = await SendAsync(url, null, timeout.Token);
                using var owned = response;
                Fail(response, repo, null);
                if (Retryable(response.StatusCode)) throw new RetryableException($"HTTP {(int)response.StatusCode}");
                var text = await ReadCappedAsync(response.Content, repo, timeout.Token);
                string? next = response.Headers.TryGetValues("Link", out var links) ? NextLink(string.Join(",", links)) : null;
                try { return (JsonFile.ParseNode(text), next); }
                catch (System.Text.Json.JsonException) { throw new FinQLoraException($"{repo}: the Hub at {_endpoint.Host} answered with something that is not JSON"); }
            }
            catch (Exception e) when ((e is RetryableException or HttpRequestException || e is OperationCanceledException && !ct.IsCancellationRequested) && attempt < _settings.MaxAttempts)
            {
                await Task.Delay(TimeSpan.FromTicks(_settings.FirstBackoff.Ticks << Math.Min(attempt - 1, 10)), ct);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                throw new FinQLoraException($"{repo}: the Hub at {_endpoint.Host} did not answer within {_settings.Timeout.TotalSeconds:0.#} s ({attempt} attempt(s)); try again later, raise --hub-timeout, or use --offline --source DIR", exitCode: 3);
            }
            catch (Exception e) when (e is RetryableException or HttpRequestException)
            {
                throw new FinQLoraException($"{repo}: cannot reach the Hub at {_endpoint.Host} ({e.Message}); check HF_ENDPOINT or use --offline --source DIR", exitCode: 3);
            }
        }
    }

    /// <summary>
    /// GET <paramref name="url"/>, following redirects here: each hop (relative Locations resolved against
    /// the previous URL) passes the HTTPS rule, and the token is sent only to the endpoint itself. Returns the
    /// final response (headers read, body not) and a sha256 that a redirect carried (the Hub puts the LFS
    /// file's X-Linked-Etag on its redirect to the CDN).
    /// </summary>
    private async Task<(HttpResponseMessage Response, string? HopSha)> SendAsync(string url, RangeHeaderValue? range, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) throw new FinQLoraException($"the Hub at {_endpoint.Host} sent an unusable URL", exitCode: 3);
        string? hopSha = null;
        for (int hop = 0; ; hop++)
        {
            _settings.CheckScheme(uri);
            using var request = new HttpRequestMessage(HttpMethod.Get, uri);
            if (_settings.Token is not null && SameOrigin(uri, _endpoint)) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _settings.Token);
            if (range is not null) request.Headers.Range = range;
            var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
            if (!IsRedirect(response.StatusCode)) return (response, hopSha);
            using (response)
            {
                hopSha ??= ShaFromHeaders(response);
                var location = response.Headers.Location
                    ?? throw new FinQLoraException($"{uri.Host} answered HTTP {(int)response.StatusCode} (a redirect) without a Location", exitCode: 3);
                if (hop == MaxRedirects)
                    throw new FinQLoraException($"more than {MaxRedirects} redirects, starting at the Hub at {_endpoint.Host}; stopping (a redirect loop?)", exitCode: 3);
                uri = location.IsAbsoluteUri ? location : new Uri(uri, location);
            }
        }
    }

    private static bool IsRedirect(HttpStatusCode code) =>
        code is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;

    private static bool SameOrigin(Uri a, Uri b) =>
        a.Scheme == b.Scheme && a.Port == b.Port && string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase);

    /// <summary>A JSON answer's body, refused past <see cref="MaxJsonBytes"/> (announced or sent) instead of buffered.</summary>
    private async Task<string> ReadCappedAsync(HttpContent content, string repo, CancellationToken ct)
    {
        FinQLoraException TooLarge() => new($"{repo}: the Hub at {_endpoint.Host} sent a JSON answer larger than {MaxJsonBytes >> 20} MiB; refusing it (a broken server or proxy?)", exitCode: 3);
        if (content.Headers.ContentLength > MaxJsonBytes) throw TooLarge();
        await using var body = await content.ReadAsStreamAsync(ct);
        using var text = new MemoryStream();
        var buffer = new byte[81920];
        int n;
        while ((n = await body.ReadAsync(buffer, ct)) > 0)
        {
            if (text.Length + n > MaxJsonBytes) throw TooLarge();
            text.Write(buffer, 0, n);
        }
        return Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    private void Fail(HttpResponseMessage response, string repo, string? path)
    {
        var what = path is null ? repo : $"{repo}/{path}";
        switch (response.StatusCode)
        {
            case HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden:
                throw new FinQLoraException(_settings.Token is null
                    ? $"{what}: HTTP {(int)response.StatusCode}: the Hub wants a token; set HF_TOKEN or run `huggingface-cli login` (and accept the dataset's terms on its page)"
                    : $"{what}: HTTP {(int)response.StatusCode}: the token from {_settings.TokenSource} was refused (check it, and that it may read {repo})", exitCode: 3);
            case HttpStatusCode.NotFound:
                throw new FinQLoraException($"{what}: not found on {_endpoint.Host} (HTTP 404; check the name and revision '{_settings.Revision}')", exitCode: 3);
        }
        if (!response.IsSuccessStatusCode && !Retryable(response.StatusCode))
            throw new FinQLoraException($"{what}: HTTP {(int)response.StatusCode} from {_endpoint.Host}");
    }

    private static bool Retryable(HttpStatusCode code) => code == HttpStatusCode.TooManyRequests || (int)code >= 500;

    /// <summary>The Hub puts an LFS file's sha256 in X-Linked-Etag (or ETag) — quoted, maybe weak.</summary>
    private static string? ShaFromHeaders(HttpResponseMessage response)
    {
        foreach (var name in new[] { "X-Linked-Etag", "ETag" })
            if (response.Headers.TryGetValues(name, out var values))
            {
                var v = values.First().Trim();
                if (v.StartsWith("W/", StringComparison.Ordinal)) v = v[2..];
                v = v.Trim('"');
                if (IsSha256(v)) return v.ToLowerInvariant();
            }
        return null;
    }

    private static string? NextLink(string header)
    {
        foreach (var part in header.Split(','))
            if (part.Contains("rel=\"next\"", StringComparison.Ordinal))
            {
                int a = part.IndexOf('<'), b = part.IndexOf('>');
                if (a >= 0 && b > a) return part[(a + 1)..b];
            }
        return null;
    }

    private static long? Size(JsonNode? n) => n is JsonValue v && v.TryGetValue<long>(out var l) && l >= 0 ? l : null;

    private static bool IsSha256(string? s) => s is { Length: 64 } && s.All(Uri.IsHexDigit);

    private static string SafeSegment(string s) => SafePath.Relative(s).Replace(Path.DirectorySeparatorChar, '_');

    private static void CheckRepo(string repo)
    {
        var parts = repo.Split('/');
        if (parts.Length != 2 || parts.Any(p => p.Length == 0 || p == "." || p == ".." || !p.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new FinQLoraException($"'{repo}' is not a Hub dataset name (owner/name)");
    }

    public static string Sha256Of(string path)
    {
        using var s = IO.InputFile.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(s));
    }

    private sealed class RetryableException(string message) : Exception(message);
}
