using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Evaluation;

/// <summary>predictions.jsonl: one prediction per line, snake_case fields; validated per task when read.</summary>
public static class PredictionsFile
{
    public static void Write(string path, IEnumerable<Prediction> predictions)
    {
        IO.AtomicFile.Write(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
            foreach (var p in predictions) w.Write(Line(p) + "\n");
        });
    }

    public static JsonObject ToJson(Prediction p)
    {
        var o = new JsonObject { ["task"] = p.Task, ["id"] = p.Id };
        if (p.Row is not null) o["row"] = p.Row;
        o["prediction"] = p.PredictionText;
        o["answer"] = p.Answer;
        if (p.Choices is not null) o["choices"] = new JsonArray(p.Choices.Select(c => (JsonNode)c).ToArray());
        if (p.Gold is not null) o["gold"] = p.Gold;
        if (p.Text is not null) o["text"] = p.Text;
        if (p.Label is not null) o["label"] = new JsonArray(p.Label.Select(c => (JsonNode)c).ToArray());
        if (p.LabelType is not null) o["label_type"] = p.LabelType;
        if (p.DialogueId is not null) o["dialogue_id"] = p.DialogueId;
        if (p.Turn is not null) o["turn"] = p.Turn;
        if (p.LatencyMs is not null) o["latency_ms"] = Math.Round(p.LatencyMs.Value, 3);
        return o;
    }

    /// <summary>The line of <paramref name="p"/> as written to the file (no line end).</summary>
    public static string Line(Prediction p) => ToJson(p).ToJsonString();

    public static List<Prediction> Read(string path)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: predictions file not found");
        var result = new List<Prediction>();
        var seen = new Dictionary<(string, string), int>();
        foreach (var (lineNo, line) in IO.LineReader.Read(path))
        {
            if (Parse(path, lineNo, line) is not { } p) continue;
            // the same example twice would count twice in every metric
            if (!seen.TryAdd((p.Task, p.Id), lineNo))
                throw new FinQLoraException($"{path}:{lineNo}: {p.Task} id '{p.Id}' appears twice (first on line {seen[(p.Task, p.Id)]}): each example must be scored once");
            result.Add(p);
        }
        return result;
    }

    /// <summary>One line of a predictions file, validated for its task; null for a blank line. Errors name <c>path:lineNo</c>.</summary>
    public static Prediction? Parse(string path, int lineNo, string line)
    {
        if (string.IsNullOrWhiteSpace(line)) return null;
        string Where() => $"{path}:{lineNo}";
        JsonObject o;
        try { o = IO.JsonFile.ParseNode(line) as JsonObject ?? throw new FinQLoraException($"{Where()}: not a JSON object"); }
        catch (JsonException e) { throw new FinQLoraException($"{Where()}: invalid JSON ({IO.JsonFile.OneLine(e.Message)})"); }
        string Str(string key) => o[key] switch
        {
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            null => throw new FinQLoraException($"{Where()}: missing field \"{key}\""),
            var other => throw new FinQLoraException($"{Where()}: field \"{key}\" must be a string, got {other.ToJsonString()}"),
        };
        List<string>? Strings(string key) => o[key] switch
        {
            null => null,
            JsonArray a when a.All(x => x is JsonValue v && v.TryGetValue<string>(out _)) => a.Select(x => x!.GetValue<string>()).ToList(),
            var other => throw new FinQLoraException($"{Where()}: field \"{key}\" must be a list of strings, got {other.ToJsonString()}"),
        };
        var taskName = Str("task");
        FlareTask task;
        try { task = FlareTasks.Get(taskName); }
        catch (FinQLoraException e) { throw new FinQLoraException($"{Where()}: {e.Message}"); }
        var p = new Prediction
        {
            Task = task.Name, Id = o["id"]?.ToString() ?? lineNo.ToString(), PredictionText = Str("prediction"), Answer = Str("answer"),
            Row = o["row"] switch
            {
                null => null,
                JsonValue rv when rv.TryGetValue<int>(out var ri) && ri >= 0 => ri,
                var other => throw new FinQLoraException($"{Where()}: field \"row\" must be a whole number >= 0, got {other.ToJsonString()}"),
            },
            Choices = Strings("choices"),
            Gold = o["gold"] is JsonValue g && g.TryGetValue<int>(out var gi) ? gi : null,
            Text = o["text"] is JsonValue t && t.TryGetValue<string>(out var ts) ? ts : null,
            Label = Strings("label"),
            LabelType = o["label_type"] is JsonValue lt && lt.TryGetValue<string>(out var lts) ? lts : null,
            DialogueId = o["dialogue_id"]?.ToString(), Turn = o["turn"] is JsonValue tv && tv.TryGetValue<int>(out var ti) ? ti : null,
            LatencyMs = o["latency_ms"] is JsonValue lv && lv.TryGetValue<double>(out var ld) ? ld : null,
        };
        if (task.IsClassification && (p.Choices is null || p.Gold is null))
            throw new FinQLoraException($"{Where()}: {task.Name} lines need \"choices\" and \"gold\"");
        if (task.IsClassification && (p.Gold < 0 || p.Gold >= p.Choices!.Count))
            throw new FinQLoraException($"{Where()}: \"gold\" {p.Gold} is outside the {p.Choices!.Count} choices");
        if (task.Kind == TaskKind.Ner && p.Text is null) throw new FinQLoraException($"{Where()}: ner lines need \"text\"");
        if (task.Kind == TaskKind.Headlines && p.LabelType is null) throw new FinQLoraException($"{Where()}: headlines lines need \"label_type\"");
        return p;
    }
}
