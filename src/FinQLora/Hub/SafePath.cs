namespace FinQLora.Hub;

/// <summary>
/// Turns a file path that a server sent into a relative path that stays inside a target folder:
/// absolute paths, drive letters, backslashes, "." / ".." segments, empty segments and control
/// characters are refused.
/// </summary>
public static class SafePath
{
    /// <summary>The exit code of an unsafe name: the server (Hub or mirror) is at fault, like a network error.</summary>
    private const int ExitCode = 3;

    public static string Relative(string serverPath)
    {
        if (string.IsNullOrEmpty(serverPath) || serverPath.Length > 1000)
            throw new FinQLoraException($"the server sent an unusable file name '{Shorten(serverPath)}'", ExitCode);
        if (serverPath.StartsWith('/') || serverPath.Contains('\\') || serverPath.Contains(':') || serverPath.Any(char.IsControl))
            throw new FinQLoraException($"the server sent an unsafe file name '{Shorten(serverPath)}' (absolute, drive or control characters)", ExitCode);
        var parts = serverPath.Split('/');
        if (parts.Any(p => p.Length == 0 || p == "." || p == ".."))
            throw new FinQLoraException($"the server sent an unsafe file name '{Shorten(serverPath)}' (empty, '.' or '..' segment)", ExitCode);
        return string.Join(Path.DirectorySeparatorChar, parts);
    }

    /// <summary>The full path of <paramref name="serverPath"/> under <paramref name="root"/>, checked to stay inside it.</summary>
    public static string Under(string root, string serverPath)
    {
        var full = Path.GetFullPath(Path.Combine(root, Relative(serverPath)));
        var rootFull = Path.GetFullPath(root).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (!full.StartsWith(rootFull, StringComparison.Ordinal))
            throw new FinQLoraException($"the server sent a file name that leaves the target folder: '{Shorten(serverPath)}'", ExitCode);
        return full;
    }

    private static string Shorten(string? s) => s is null ? "" : s.Length <= 80 ? s : s[..80] + "…";
}
