using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Tests;

/// <summary>The transformers/PEFT parity fixture (tests/fixtures/parity, made by make_fixture.py).</summary>
internal static class Fixtures
{
    public static string Parity(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "fixtures", "parity", "out", .. parts]);

    public static string TinyModel => Parity("model");

    private static readonly Lazy<JsonObject> _expected = new(() => JsonNode.Parse(File.ReadAllText(Parity("expected.json")))!.AsObject());
    public static JsonObject Expected => _expected.Value;

    public static int[] Ints(JsonNode? node) => node!.AsArray().Select(x => x!.GetValue<int>()).ToArray();

    public static string TempDir()
    {
        var dir = Path.Combine(Path.GetTempPath(), "finqlora-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>
    /// A file of <paramref name="bytes"/> bytes without a newline: <paramref name="head"/>, then NUL bytes (valid
    /// UTF-8 characters) made by extending the file, so it takes no disk space and no time to write.
    /// </summary>
    public static string OneLongLine(string path, long bytes, string head = "")
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var f = File.Create(path);
        f.Write(System.Text.Encoding.UTF8.GetBytes(head));
        f.SetLength(bytes);
        return path;
    }

    /// <summary>The <see cref="FinQLoraException"/> that <paramref name="action"/> throws, and the bytes this thread allocated until then (large objects included).</summary>
    public static (FinQLoraException Error, long Allocated) ThrowsAllocating(Action action)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<FinQLoraException>(action);
        return (e, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
