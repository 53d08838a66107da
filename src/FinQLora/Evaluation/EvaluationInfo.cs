using System.Text.Json;
using System.Text.Json.Serialization;

namespace FinQLora.Evaluation;

/// <summary>
/// What an evaluation scored, written beside its metrics as <c>evaluation.json</c> so that a report can say
/// which model (and whether its weights are random), which adapters, which data and how many rows stand
/// behind each number (<see cref="Rows"/>: rows scored per task). Paths are as given; <see cref="RandomWeights"/> is true for the quickstart's tiny model.
/// </summary>
public sealed record EvaluationInfo(
    string Model, bool RandomWeights, IReadOnlyList<string> Adapters, string Quantize, string DataDir, string Split,
    string Mode, int? Limit, int MaxNewTokens, int MaxLength, string? Predictions = null, IReadOnlyDictionary<string, int>? Rows = null)
{
    public const string FileName = "evaluation.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The settings of a model evaluation.</summary>
    public static EvaluationInfo For(string model, string modelDir, IReadOnlyList<string> adapters, string quantize, EvaluationSettings s) =>
        new(model, FinQLora.Model.TinyModel.IsTinyModel(modelDir), adapters, quantize, s.DataDir, s.Split, s.Mode, s.Limit, s.MaxNewTokens, s.MaxLength);

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

    public void Write(string dir) => IO.AtomicFile.WriteAllText(Path.Combine(dir, FileName), JsonSerializer.Serialize(this, Json));

    /// <summary>The evaluation.json of <paramref name="dir"/>, or null when there is none (an evaluation made before it was written).</summary>
    public static EvaluationInfo? Read(string dir)
    {
        var path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) return null;
        try { return IO.JsonFile.ReadObject(path).Deserialize<EvaluationInfo>(Json); }
        catch (JsonException e) { throw new FinQLoraException($"{path}: not a valid {FileName} ({IO.JsonFile.OneLine(e.Message)})"); }
    }
}
