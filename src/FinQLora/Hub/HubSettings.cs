namespace FinQLora.Hub;

/// <summary>
/// Where and how to reach the Hugging Face Hub: the endpoint (HF_ENDPOINT, default https://huggingface.co),
/// the access token (HF_TOKEN; sent as a Bearer header, never printed), the revision, and the retry policy.
/// Plain HTTP is refused unless the endpoint is this machine (localhost, 127.0.0.1, ::1) or
/// <see cref="AllowInsecureHttp"/> is set.
/// </summary>
public sealed record HubSettings
{
    public const string DefaultEndpoint = "https://huggingface.co";

    public string Endpoint { get; init; } = DefaultEndpoint;
    public string? Token { get; init; }
    public string Revision { get; init; } = "main";
    public int MaxAttempts { get; init; } = 5;
    public TimeSpan FirstBackoff { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromMinutes(5);
    public bool AllowInsecureHttp { get; init; }

    /// <summary>Settings from HF_ENDPOINT and HF_TOKEN (empty values count as unset).</summary>
    public static HubSettings FromEnvironment(Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        var endpoint = env("HF_ENDPOINT");
        var token = env("HF_TOKEN");
        return new HubSettings
        {
            Endpoint = string.IsNullOrWhiteSpace(endpoint) ? DefaultEndpoint : endpoint.Trim().TrimEnd('/'),
            Token = string.IsNullOrWhiteSpace(token) ? null : token.Trim(),
        };
    }

    /// <summary>The endpoint as a URI, after the HTTPS rule; throws a message that says what to do.</summary>
    public Uri EndpointUri()
    {
        if (!Uri.TryCreate(Endpoint.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
            throw new FinQLoraException($"HF_ENDPOINT '{Endpoint}' is not an http(s) URL");
        if (uri.Scheme == Uri.UriSchemeHttp && !uri.IsLoopback && !AllowInsecureHttp)
            throw new FinQLoraException($"refusing plain HTTP to {uri.Host}: use an https:// endpoint (or --allow-http for a trusted mirror)");
        return uri;
    }
}
