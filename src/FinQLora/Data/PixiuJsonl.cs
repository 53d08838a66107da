using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Data;

/// <summary>
/// PIXIU's instruction-tuning format: {"id", "conversations": [{"from": "human", "value": prompt},
/// {"from": "agent"|"assistant"|"gpt", "value": answer}]} (some files add text and label). The prompt
/// becomes the query and the reply the answer; classification rows get the task's choices and the
/// index of the answer among them.
/// </summary>
public static class PixiuJsonl
{
    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, FlareTask task, string split, bool skipBadRows = false)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: file not found");
        return FlareJsonl.ReadLines(path, skipBadRows, (line, lineNo) => Parse(line, task, split, $"{task.Name}-{split}-{lineNo}"));
    }

    public static FlareRow Parse(string line, FlareTask task, string split, string fallbackId)
    {
        JsonObject o;
        try { o = IO.JsonFile.ParseNode(line) as JsonObject ?? throw new FlareJsonl.RowException("not a JSON object"); }
        catch (JsonException e) { throw new FlareJsonl.RowException($"invalid JSON ({IO.JsonFile.OneLine(e.Message)})"); }
        if (o["conversations"] is not JsonArray turns || turns.Count < 2)
            throw new FlareJsonl.RowException("\"conversations\" must hold a human turn and a reply");
        string Value(JsonNode? turn, int i) => turn is JsonObject t && IO.JsonFile.String(t["value"]) is { } s ? s
            : throw new FlareJsonl.RowException($"conversations[{i}].value must be a string");
        var flare = new JsonObject
        {
            ["id"] = o["id"]?.DeepClone() ?? fallbackId,
            ["query"] = Value(turns[0], 0),
            ["answer"] = Value(turns[1], 1),
        };
        if (o["text"] is { } text) flare["text"] = text.DeepClone();
        else if (task.Kind == TaskKind.Ner && ExtractText(Value(turns[0], 0)) is { } t) flare["text"] = t;
        if (o["label"] is { } label && task.Kind == TaskKind.Ner) flare["label"] = label.DeepClone();
        return FlareJsonl.FromJson(flare, task, split, fallbackId);
    }

    /// <summary>The "Text: …" part of a prompt (before "\nAnswer:"), which NER scoring needs.</summary>
    private static string? ExtractText(string prompt)
    {
        int at = prompt.LastIndexOf("\nText: ", StringComparison.Ordinal);
        if (at < 0) return null;
        var rest = prompt[(at + 7)..];
        int end = rest.LastIndexOf("\nAnswer:", StringComparison.Ordinal);
        return end >= 0 ? rest[..end] : rest;
    }
}
