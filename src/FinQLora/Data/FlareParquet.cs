using System.Collections;
using System.Text.Json.Nodes;
using FinQLora.Tasks;
using Parquet.Serialization;

namespace FinQLora.Data;

/// <summary>
/// Reads FLARE rows from a Parquet file as the Hub stores them (<c>data/test-*.parquet</c>): the same
/// columns as the JSONL form (id, query, answer, text, choices, gold, label, label_type, turn,
/// dialogue_id); <c>choices</c>/<c>label</c> may be list columns or Python-list strings. A bad row is an
/// error naming file:row (1-based), or with <c>skipBadRows</c> skipped and counted.
/// </summary>
public static class FlareParquet
{
    public static (List<FlareRow> Rows, ReadReport Report) Read(string path, FlareTask task, string split, bool skipBadRows = false)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: file not found");
        IList<Dictionary<string, object>> data;
        try
        {
            using var stream = File.OpenRead(path);
            data = ParquetSerializer.DeserializeUntypedAsync(stream).GetAwaiter().GetResult().Data;
        }
        catch (Exception e) when (e is not FinQLoraException)
        {
            throw new FinQLoraException($"{path}: not a readable Parquet file ({e.Message})");
        }
        var rows = new List<FlareRow>();
        var problems = new List<string>();
        for (int i = 0; i < data.Count; i++)
        {
            try
            {
                var o = new JsonObject();
                foreach (var (key, value) in data[i]) o[key] = ToNode(value);
                rows.Add(FlareJsonl.FromJson(o, task, split, $"{task.Name}-{split}-{i + 1}"));
            }
            catch (FlareJsonl.RowException e)
            {
                var message = $"{path}:{i + 1}: {e.Message}";
                if (!skipBadRows) throw new FinQLoraException(message + " (use --skip-bad-rows to skip such rows)");
                problems.Add(message);
            }
        }
        return (rows, new ReadReport(rows.Count, problems.Count, problems));
    }

    private static JsonNode? ToNode(object? value) => value switch
    {
        null => null,
        string s => JsonValue.Create(s),
        bool b => JsonValue.Create(b),
        int n => JsonValue.Create(n),
        long n => JsonValue.Create(n),
        short n => JsonValue.Create((int)n),
        byte n => JsonValue.Create((int)n),
        double d => JsonValue.Create(d),
        float f => JsonValue.Create((double)f),
        decimal m => JsonValue.Create(m),
        IDictionary => throw new FlareJsonl.RowException("unexpected struct column"),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(ToNode).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
