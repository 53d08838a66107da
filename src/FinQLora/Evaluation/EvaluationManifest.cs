using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Evaluation;

/// <summary>
/// evaluation.json: everything that decides an evaluation's predictions (the model as loaded, the tasks, data,
/// row limit, batching, decoding and prompt settings), written when the evaluation starts. A resumed evaluation
/// must find the same values, or its rows would mix two evaluations: <see cref="Differences"/> lists what changed.
/// An object of strings: <c>tasks</c>, <c>data</c>, <c>split</c>, <c>limit</c> ("all" for none), <c>batch_size</c>,
/// <c>max_new_tokens</c>, <c>mode</c>, <c>system</c>, <c>max_length</c>, and the model as loaded (<c>model.path</c>,
/// "tiny" for the quickstart model; <c>model.adapters</c>, comma-separated, each optionally followed by " (stack)" or
/// " (merge)"; <c>model.quantize</c>, <c>model.device</c>, <c>model.dtype</c>); a re-scored folder adds
/// <c>rescored_from</c>. A report reads it to say which model (and whether its weights are random), which adapters
/// and which data stand behind each number.
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

    public string? Get(string key) => Values.TryGetValue(key, out var v) ? v : null;

    public string Model => Get("model.path") ?? "?";

    /// <summary>The adapter folders, base first (their " (stack)"/" (merge)" notes dropped).</summary>
    public IReadOnlyList<string> Adapters => (Get("model.adapters") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Select(a => a.EndsWith(')') && a.LastIndexOf(" (", StringComparison.Ordinal) is var i and > 0 ? a[..i] : a).ToList();

    /// <summary>True for the quickstart's tiny model ("tiny", or a folder holding it): its weights are random.</summary>
    public bool RandomWeights => Model == FinQLora.Model.TinyModel.Name || (Directory.Exists(Model) && FinQLora.Model.TinyModel.IsTinyModel(Model));

    public int? Limit => int.TryParse(Get("limit"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;

    public string Split => Get("split") ?? "test";

    /// <summary>
    /// A short name for tables and legends: the model (its folder name; "tiny" for the quickstart model) and the
    /// adapters applied to it, each named by its folder (a folder called "adapter" by the run folder above it).
    /// </summary>
    public string Label()
    {
        static string Name(string path)
        {
            var full = Path.GetFullPath(path).TrimEnd('/', '\\');
            var name = Path.GetFileName(full);
            return name == "adapter" ? Path.GetFileName(Path.GetDirectoryName(full)) ?? name : name;
        }
        var model = Model == FinQLora.Model.TinyModel.Name ? Model : Name(Model);
        return Adapters.Count == 0 ? model : $"{model} + {string.Join("+", Adapters.Select(Name))}";
    }

    public EvaluationManifest With(string key, string value) =>
        new(new SortedDictionary<string, string>(Values.ToDictionary(), StringComparer.Ordinal) { [key] = value });

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
