using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Evaluation;

/// <summary>
/// evaluation.json: everything that decides an evaluation's predictions (the model as loaded, the tasks, data,
/// row limit, batching, decoding and prompt settings), written when the evaluation starts. A resumed evaluation
/// must find the same values, or its rows would mix two evaluations: <see cref="Differences"/> lists what changed.
/// </summary>
public sealed record EvaluationManifest(IReadOnlyDictionary<string, string> Values)
{
    public const string FileName = "evaluation.json";

    /// <summary>The settings and the model's description (path, adapters, quantization, device, dtype: as the caller loaded it).</summary>
    public static EvaluationManifest For(EvaluationSettings s, IReadOnlyDictionary<string, string> model)
    {
        var v = new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["tasks"] = string.Join(",", s.Tasks.Select(t => t.Name)),
            ["data"] = Path.GetFullPath(s.DataDir),
            ["split"] = s.Split,
            ["limit"] = s.Limit?.ToString(CultureInfo.InvariantCulture) ?? "all",
            ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["max_new_tokens"] = s.MaxNewTokens.ToString(CultureInfo.InvariantCulture),
            ["mode"] = s.Mode,
            ["system"] = s.SystemPrompt ?? "",
            ["max_length"] = s.MaxLength.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var (k, value) in model) v["model." + k] = value;
        return new EvaluationManifest(v);
    }

    public void Write(string dir) =>
        IO.AtomicFile.WriteAllText(Path.Combine(dir, FileName),
            new JsonObject(Values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>The manifest in <paramref name="dir"/>, or null when it has none.</summary>
    public static EvaluationManifest? Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        using var doc = IO.JsonFile.Parse(IO.InputFile.ReadBytes(path, IO.JsonFile.MaxConfigBytes), path);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || doc.RootElement.EnumerateObject().Any(p => p.Value.ValueKind != JsonValueKind.String))
            throw new FinQLoraException($"{path}: expected an object of strings (the file was edited?); start the evaluation again with --overwrite");
        return new EvaluationManifest(doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!, StringComparer.Ordinal));
    }

    /// <summary>"key: saved → now" for each value that differs from <paramref name="now"/>, in key order.</summary>
    public IReadOnlyList<string> Differences(EvaluationManifest now) =>
        Values.Keys.Union(now.Values.Keys).Order(StringComparer.Ordinal)
            .Where(k => Values.GetValueOrDefault(k) != now.Values.GetValueOrDefault(k))
            .Select(k => $"{k}: {Show(Values.GetValueOrDefault(k))} → {Show(now.Values.GetValueOrDefault(k))}").ToList();

    private static string Show(string? v) => v is null ? "(absent)" : v.Length == 0 ? "(none)" : v;
}
