using System.Text;

namespace FinQLora.Hub;

/// <summary>
/// Where and how to reach the Hugging Face Hub: the endpoint (HF_ENDPOINT, default https://huggingface.co),
/// the access token (HF_TOKEN, else the token file that `huggingface-cli login` writes: HF_TOKEN_PATH,
/// $HF_HOME/token or ~/.cache/huggingface/token; sent as a Bearer header, never printed), the revision, and
/// the retry policy. Plain HTTP is refused, except to this machine (localhost, 127.0.0.1, ::1) when
/// <see cref="AllowLocalHttp"/> is set (--allow-http: a local mirror or test server).
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    /// <summary>A token file is one token (about 40 characters); anything larger is not read.</summary>
    public const int MaxTokenFileBytes = 64 << 10;

    public string Endpoint { get; init; } = DefaultEndpoint;
    public string? Token { get; init; }

    /// <summary>Where the token came from ("HF_TOKEN" or the token file's path), for messages; never the token.</summary>
    public string TokenSource { get; init; } = "HF_TOKEN";

    public string Revision { get; init; } = "main";
    public int MaxAttempts { get; init; } = 5;
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    public bool AllowLocalHttp { get; init; }

    /// <summary>Settings from HF_ENDPOINT, HF_TOKEN and the token file (empty values count as unset).</summary>
    public static HubSettings FromEnvironment(Func<string, string?>? env = null, Func<string, string?>? readFile = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        readFile ??= ReadTokenFile;
        var endpoint = env("HF_ENDPOINT");
        var (token, source) = FindToken(env, readFile);
        return new HubSettings
        {
            Endpoint = string.IsNullOrWhiteSpace(endpoint) ? DefaultEndpoint : endpoint.Trim().TrimEnd('/'),
            Token = token,
            TokenSource = source,
        };
    }

    /// <summary>HF_TOKEN, else the first token file that exists (huggingface_hub's order: HF_TOKEN_PATH, $HF_HOME/token, $XDG_CACHE_HOME/huggingface/token, ~/.cache/huggingface/token).</summary>
    private static (string? Token, string Source) FindToken(Func<string, string?> env, Func<string, string?> readFile)
    {
        if (env("HF_TOKEN") is { } fromEnv && !string.IsNullOrWhiteSpace(fromEnv)) return (CheckToken(fromEnv.Trim(), "HF_TOKEN"), "HF_TOKEN");
        var home = env("HOME") ?? Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var hfHome = NonEmpty(env("HF_HOME"))
                     ?? (NonEmpty(env("XDG_CACHE_HOME")) is { } xdg ? Path.Combine(xdg, "huggingface") : Path.Combine(home, ".cache", "huggingface"));
        var path = NonEmpty(env("HF_TOKEN_PATH")) ?? Path.Combine(hfHome, "token");
        string? text;
        try { text = readFile(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new FinQLoraException($"cannot read the Hub token file {path}: {e.Message}"); }
        return string.IsNullOrWhiteSpace(text) ? (null, "HF_TOKEN") : (CheckToken(text.Trim(), path), path);
    }

    /// <summary>The token file's text, or null when there is none; refused past <see cref="MaxTokenFileBytes"/> without reading further.</summary>
    private static string? ReadTokenFile(string path)
    {
        if (!File.Exists(path)) return null;
        using var stream = IO.InputFile.OpenRead(path);
        var buffer = new byte[MaxTokenFileBytes + 1];
        int have = 0, n;
        while (have < buffer.Length && (n = stream.Read(buffer, have, buffer.Length - have)) > 0) have += n;
        if (have > MaxTokenFileBytes)
            throw new FinQLoraException($"the Hub token file {path} is larger than {MaxTokenFileBytes >> 10} KiB, so it is not a token file; check HF_TOKEN_PATH / HF_HOME or run `huggingface-cli login` again", exitCode: 2);
        return Encoding.UTF8.GetString(buffer, 0, have);
    }

    /// <summary>
    /// A token goes into an HTTP header: line breaks, NUL and other control characters are refused here,
    /// naming where the token came from and never the token itself.
    /// </summary>
    public static string? CheckToken(string? token, string source)
    {
        if (token is null) return null;
        var from = source == "HF_TOKEN" ? "HF_TOKEN" : $"the token file {source}";
        string? bad = token.Any(c => c is '\r' or '\n') ? "a line break"
            : token.Contains('\0') ? "a NUL character"
            : token.Any(char.IsControl) ? "a control character"
            : null;
        if (bad is not null)
            throw new FinQLoraException($"the Hub token from {from} contains {bad}; a token is one line of printable characters (set HF_TOKEN again or run `huggingface-cli login`)", exitCode: 2);
        return token;
    }

    /// <summary>Records print their members: the token shows only as set or not.</summary>
    private bool PrintMembers(StringBuilder builder)
    {
        builder.Append($"Endpoint = {Endpoint}, Token = {(Token is null ? "(none)" : "***")}, TokenSource = {TokenSource}, Revision = {Revision}, ")
               .Append($"MaxAttempts = {MaxAttempts}, FirstBackoff = {FirstBackoff}, Timeout = {Timeout}, AllowLocalHttp = {AllowLocalHttp}");
        return true;
    }

    private static string? NonEmpty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>The endpoint as a URI, after the HTTPS rule; throws a message that says what to do.</summary>
    public Uri EndpointUri()
    {
        if (!Uri.TryCreate(Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new FinQLoraException($"HF_ENDPOINT '{Endpoint}' is not an http(s) URL", exitCode: 2);
        CheckScheme(uri);
        return uri;
    }

    /// <summary>HTTPS, or plain HTTP to this machine with <see cref="AllowLocalHttp"/>.</summary>
    public void CheckScheme(Uri uri)
    {
        if (uri.Scheme == Uri.UriSchemeHttps) return;
        if (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback && AllowLocalHttp) return;
        throw new FinQLoraException(uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback
            ? $"refusing plain HTTP to {uri.Host}: pass --allow-http to use a Hub server on this machine"
            : $"refusing {uri.Scheme}:// to {uri.Host}: the Hub is reached over HTTPS only (plain HTTP only to this machine, with --allow-http)", exitCode: 2);
    }
}
