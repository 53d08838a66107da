using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Tasks;

namespace FinQLora.Data;

/// <summary>What a reader did with bad rows when asked to skip them (never silent).</summary>
public sealed record ReadReport(int Rows, int Skipped, IReadOnlyList<string> Problems);

/// <summary>
/// Reads and writes FLARE-format JSON Lines: one object per line with id, query, answer and the task's
/// fields. `choices` and `label` may be JSON lists or Python-list strings (some Hub copies store them so).
/// A bad row is an error naming file:line, unless <c>skipBadRows</c>, which skips and counts it.
/// </summary>
public static class FlareJsonl
{
    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, FlareTask task, string split, bool skipBadRows = false)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: file not found");
        if (path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && StartsWithBracket(path)) return ReadArray(path, task, split, skipBadRows);
        return ReadLines(path, skipBadRows, (line, lineNo) => Parse(line, task, split, $"{task.Name}-{split}-{lineNo}"));
    }

    /// <summary>
    /// The line loop both JSONL formats share: strict UTF-8, blank lines skipped, a <see cref="RowException"/>
    /// becomes an error naming file:line — or, with <paramref name="skipBadRows"/>, a counted, reported skip.
    /// </summary>
    internal static (List<FlareRow> Rows, ReadReport Report) ReadLines(string path, bool skipBadRows, Func<string, int, FlareRow> parse)
    {
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        foreach (var (lineNo, line) in IO.LineReader.Read(path, MaxLineChars))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                rows.Add(parse(line, lineNo));
            }
            catch (RowException e)
            {
                var message = $"{path}:{lineNo}: {e.Message}";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
            }
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }

    /// <summary>A .json file holding one array is read whole: above this size, JSON Lines are needed.</summary>
    public const long MaxArrayFileBytes = 512L << 20;

    /// <summary>Rows longer than this are refused before they are held in memory (see <see cref="IO.LineReader"/>).</summary>
    public const int MaxLineChars = IO.LineReader.MaxChars;

    private static bool StartsWithBracket(string path)
    {
        using var r = new StreamReader(IO.InputFile.OpenRead(path));
        int c;
        while ((c = r.Read()) >= 0) if (!char.IsWhiteSpace((char)c)) return c == '[';
        return false;
    }

    /// <summary>A .json file holding one array of FLARE rows; problems name file:#index (1-based).</summary>
    private static (List<FlareRow> Rows, ReadReport Report) ReadArray(string path, FlareTask task, string split, bool skipBadRows)
    {
        JsonArray items;
        var text = IO.InputFile.ReadText(path, MaxArrayFileBytes, strictUtf8: true,
            tooLarge: _ => new FinQLoraException($"{path}: a .json array over {MaxArrayFileBytes >> 20} MiB; write the rows as JSON Lines (.jsonl) instead"));
        try { items = IO.JsonFile.ParseNode(text) as JsonArray ?? throw new JsonException("the top level is not an array"); }
        catch (Exception e) when (e is JsonException or DecoderFallbackException) { throw new FinQLoraException($"{path}: not a JSON array of rows ({IO.JsonFile.OneLine(e.Message)})"); }
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        for (int i = 0; i < items.Count; i++)
        {
            try { rows.Add(FromJson(items[i] as JsonObject ?? throw new RowException("not a JSON object"), task, split, $"{task.Name}-{split}-{i + 1}")); }
            catch (RowException e)
            {
                var message = $"{path}:#{i + 1}: {e.Message}";
                if (!skipBadRows) throw new BadRowException(message);
                problems.Add(message);
            }
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }

    public static FlareRow Parse(string line, FlareTask task, string split, string fallbackId)
    {
        JsonObject o;
        try { o = IO.JsonFile.ParseNode(line) as JsonObject ?? throw new RowException("not a JSON object"); }
        catch (JsonException e) { throw new RowException($"invalid JSON ({IO.JsonFile.OneLine(e.Message)})"); }
        return FromJson(o, task, split, fallbackId);
    }

    /// <summary>
    /// Choices are scored against each other (an empty one always wins in log-likelihood mode, a duplicate splits
    /// the vote) and the answer is the gold choice's text: a row breaking either would be scored wrongly without a word.
    /// </summary>
    private static void CheckChoices(IReadOnlyList<string> choices, string answer, int gold)
    {
        for (int i = 0; i < choices.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(choices[i])) throw new RowException($"choices[{i}] is empty");
            for (int j = 0; j < i; j++)
                if (choices[j].Trim().Equals(choices[i].Trim(), StringComparison.OrdinalIgnoreCase))
                    throw new RowException($"choices[{i}] '{choices[i]}' repeats choices[{j}]");
        }
        if (!choices[gold].Trim().Equals(answer.Trim(), StringComparison.OrdinalIgnoreCase))
            throw new RowException($"\"answer\" '{answer}' is not the gold choice (choices[{gold}] is '{choices[gold]}')");
    }

    /// <summary>A multi-turn query's {answerK} must name an earlier turn (checked when the row is read, not after the model ran).</summary>
    private static void CheckPlaceholders(string query, int? turn)
    {
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(query, @"\{answer(\d+)\}"))
            if (!int.TryParse(m.Groups[1].Value, out var k) || turn is { } t && k >= t)
                throw new RowException($"the placeholder {Shorten(m.Value)} names no earlier turn{(turn is { } tt ? $" (this is turn {tt})" : "")}");
    }

    private static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "…";

    public static FlareRow FromJson(JsonObject o, FlareTask task, string split, string fallbackId)
    {
        string query = RequiredString(o, "query");
        string answer = RequiredString(o, "answer");
        if (string.IsNullOrWhiteSpace(answer)) throw new RowException("\"answer\" is empty");
        IReadOnlyList<string>? choices = StringList(o, "choices");
        int? gold = o["gold"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<int>(out var g) => g,
            JsonValue v when v.TryGetValue<double>(out var d) && d == Math.Floor(d) && Math.Abs(d) < int.MaxValue => (int)d,
            var other => throw new RowException($"\"gold\" must be an integer, got {other.ToJsonString()}"),
        };
        if (task.IsClassification)
        {
            choices ??= task.Choices;
            if (gold is null)
            {
                int idx = choices.ToList().FindIndex(c => c.Equals(answer.Trim(), StringComparison.OrdinalIgnoreCase));
                gold = idx >= 0 ? idx : throw new RowException($"\"gold\" is missing and the answer '{answer}' is not one of the choices");
            }
            if (gold < 0 || gold >= choices.Count) throw new RowException($"\"gold\" {gold} is outside the {choices.Count} choices");
            CheckChoices(choices, answer, gold.Value);
        }
        if (task.MultiTurn) CheckPlaceholders(query, o["turn"] is JsonValue t && t.TryGetValue<int>(out var tn) ? tn : null);
        string? text = OptionalString(o, "text");
        if (task.Kind == TaskKind.Ner && text is null) throw new RowException("NER rows need \"text\"");
        string? labelType = OptionalString(o, "label_type");
        if (task.Kind == TaskKind.Headlines && labelType is null && split == "test") throw new RowException("headlines test rows need \"label_type\" (avg F1 is computed per label type)");
        return new FlareRow
        {
            Id = o["id"] is JsonValue idv ? idv.ToString() : fallbackId,
            Task = task.Name, Split = split, Query = query, Answer = answer, Text = text, Choices = choices, Gold = gold,
            Label = StringList(o, "label"), LabelType = labelType,
            Turn = o["turn"] is JsonValue tv && tv.TryGetValue<int>(out var turn) ? turn : null,
            DialogueId = o["dialogue_id"] is JsonValue dv ? dv.ToString() : null,
        };
    }

    public static JsonObject ToJson(FlareRow r)
    {
        var o = new JsonObject { ["id"] = r.Id, ["task"] = r.Task, ["split"] = r.Split, ["query"] = r.Query, ["answer"] = r.Answer };
        if (r.Text is not null) o["text"] = r.Text;
        if (r.Choices is not null) o["choices"] = new JsonArray(r.Choices.Select(c => (JsonNode)c).ToArray());
        if (r.Gold is not null) o["gold"] = r.Gold;
        if (r.Label is not null) o["label"] = new JsonArray(r.Label.Select(c => (JsonNode)c).ToArray());
        if (r.LabelType is not null) o["label_type"] = r.LabelType;
        if (r.Turn is not null) o["turn"] = r.Turn;
        if (r.DialogueId is not null) o["dialogue_id"] = r.DialogueId;
        return o;
    }

    public static void Write(string path, IEnumerable<FlareRow> rows)
    {
        IO.AtomicFile.Write(path, stream =>
        {
            using var w = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
            foreach (var r in rows) w.WriteLine(ToJson(r).ToJsonString());
        });
    }

    private static string RequiredString(JsonObject o, string key) =>
        o[key] is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new RowException(o[key] is null ? $"missing required field \"{key}\"" : $"\"{key}\" must be a string");

    private static string? OptionalString(JsonObject o, string key) =>
        o[key] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            var other => throw new RowException($"\"{key}\" must be a string, got {other.ToJsonString()}"),
        };

    /// <summary>A JSON list of strings, or a Python-list string such as "['positive', 'neutral']".</summary>
    private static List<string>? StringList(JsonObject o, string key)
    {
        switch (o[key])
        {
            case null: return null;
            case JsonArray a: return a.Select(x => x is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new RowException($"\"{key}\" must be a list of strings")).ToList();
            case JsonValue v when v.TryGetValue<string>(out var text):
                var t = text.Trim();
                if (!t.StartsWith('[') || !t.EndsWith(']')) throw new RowException($"\"{key}\" must be a list of strings");
                var inner = t[1..^1].Trim();
                if (inner.Length == 0) return [];
                return PythonListItems(inner).ToList();
            default: throw new RowException($"\"{key}\" must be a list of strings");
        }
    }

    private static IEnumerable<string> PythonListItems(string inner)
    {
        int i = 0;
        while (i < inner.Length)
        {
            while (i < inner.Length && (inner[i] == ' ' || inner[i] == ',')) i++;
            if (i >= inner.Length) yield break;
            char q = inner[i];
            if (q != '\'' && q != '"') throw new RowException("a list string must hold quoted items");
            var sb = new StringBuilder();
            i++;
            while (i < inner.Length && inner[i] != q)
            {
                if (inner[i] == '\\' && i + 1 < inner.Length) i++;
                sb.Append(inner[i++]);
            }
            if (i >= inner.Length) throw new RowException("unterminated item in a list string");
            i++;
            yield return sb.ToString();
        }
    }

    /// <summary>A problem with one row (becomes file:line).</summary>
    public sealed class RowException(string message) : Exception(message);
}
