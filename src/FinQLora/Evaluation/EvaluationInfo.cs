using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinQLora.Evaluation;

/// <summary>
/// What an evaluation scored, as <c>evaluation.json</c> beside its metrics records it: an object of strings with the
/// settings (<c>tasks</c>, <c>data</c>, <c>split</c>, <c>limit</c> — "all" for none —, <c>batch_size</c>,
/// <c>max_new_tokens</c>, <c>mode</c>, <c>system</c>, <c>max_length</c>) and the model as loaded (<c>model.path</c>,
/// "tiny" for the quickstart model; <c>model.adapters</c>, comma-separated, each optionally followed by " (stack)" or
/// " (merge)"; <c>model.quantize</c>, <c>model.device</c>, <c>model.dtype</c>); a re-scored folder adds
/// <c>rescored_from</c>. A report reads it to say which model (and whether its weights are random), which adapters
/// and which data stand behind each number.
/// </summary>
public sealed record EvaluationInfo(IReadOnlyDictionary<string, string> Values)
{
    public const string FileName = "evaluation.json";

    /// <summary>The settings of a model evaluation and the model as the caller loaded it (path as given, "tiny" kept).</summary>
    public static EvaluationInfo For(EvaluationSettings s, string model, IReadOnlyList<string> adapters, string quantize, string device, string dtype)
    {
        static string Full(string p) => p == FinQLora.Model.TinyModel.Name ? p : Path.GetFullPath(p);
        return new(new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            ["tasks"] = string.Join(",", s.Tasks.Select(t => t.Name)), ["data"] = Path.GetFullPath(s.DataDir), ["split"] = s.Split,
            ["limit"] = s.Limit?.ToString(CultureInfo.InvariantCulture) ?? "all", ["batch_size"] = s.BatchSize.ToString(CultureInfo.InvariantCulture),
            ["max_new_tokens"] = s.MaxNewTokens.ToString(CultureInfo.InvariantCulture), ["mode"] = s.Mode, ["system"] = s.SystemPrompt ?? "",
            ["max_length"] = s.MaxLength.ToString(CultureInfo.InvariantCulture),
            ["model.path"] = Full(model), ["model.adapters"] = string.Join(",", adapters.Select(Full)), ["model.quantize"] = quantize,
            ["model.device"] = device, ["model.dtype"] = dtype,
        });
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

    public EvaluationInfo With(string key, string value) =>
        new(new SortedDictionary<string, string>(Values.ToDictionary(), StringComparer.Ordinal) { [key] = value });

    public void Write(string dir) =>
        IO.AtomicFile.WriteAllText(Path.Combine(dir, FileName),
            new JsonObject(Values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");

    /// <summary>The evaluation.json of <paramref name="dir"/>, or null when there is none (an evaluation made before it was written).</summary>
    public static EvaluationInfo? Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        var o = IO.JsonFile.ReadObject(path);
        if (o.Any(kv => kv.Value is not JsonValue v || !v.TryGetValue<string>(out _)))
            throw new FinQLoraException($"{path}: expected an object of strings (the file was edited?)");
        return new(o.ToDictionary(kv => kv.Key, kv => kv.Value!.GetValue<string>(), StringComparer.Ordinal));
    }
}
