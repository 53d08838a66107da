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
}
