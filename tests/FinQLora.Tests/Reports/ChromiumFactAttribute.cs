namespace FinQLora.Tests.Reports;

/// <summary>
/// A test that needs headless Chromium (build/install-test-deps.sh installs it). Skipped locally when it is
/// missing; under CI (CI=true) it runs anyway and fails loudly, so CI never silently skips it.
/// </summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public ChromiumFactAttribute()
    {
        if (Chromium.Path() is null && !Chromium.UnderCi()) Skip = "chromium not installed (build/install-test-deps.sh installs it)";
    }
}

internal static class Chromium
{
    public static bool UnderCi() => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string? Path() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator)
            .SelectMany(dir => new[] { "chromium", "chromium-browser" }.Select(n => System.IO.Path.Combine(dir, n)))
            .FirstOrDefault(File.Exists);
}
