namespace FinQLora.Hub;

/// <summary>
/// One data file of a Hub dataset: its path in the repository (already checked to be a safe relative
/// path), the split it belongs to, its size and its sha256 when the Hub gives them (LFS files do).
/// </summary>
public sealed record HubFile(string Repo, string Path, string Split, long? Size, string? Sha256)
{
    /// <summary>A full URL when the listing gave one (the /parquet conversion listing); otherwise the resolve URL is built.</summary>
    public string? Url { get; init; }
}
