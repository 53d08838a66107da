namespace FinQLora.Hub;

/// <summary>
/// The split a Hub data file belongs to, from its path as the Hub lays datasets out:
/// <c>data/test-00000-of-00001.parquet</c>, <c>default/validation/0000.parquet</c>, <c>train.parquet</c>.
/// "validation", "valid", "val" and "dev" are FinQLora's "valid".
/// </summary>
public static class HubSplits
{
    public static string? Infer(string path)
    {
        var parts = path.Replace('\\', '/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return null;
        var file = parts[^1];
        var stem = file.Split('-', '.', '_')[0];
        if (Normalize(stem) is { } fromFile) return fromFile;
        for (int i = parts.Length - 2; i >= 0; i--)
            if (Normalize(parts[i]) is { } fromDir) return fromDir;
        return null;
    }

    public static string? Normalize(string name) => name.ToLowerInvariant() switch
    {
        "train" => "train",
        "valid" or "validation" or "val" or "dev" => "valid",
        "test" => "test",
        _ => null,
    };
}
