using System.Collections;
using System.Globalization;
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
        IList<Dictionary<string, object>> data;
        try
        {
            using var stream = IO.InputFile.OpenRead(path);
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
                if (!skipBadRows) throw new BadRowException(message);
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
        // numbers go through their JSON text, so they read back as any fitting type (gold: int64 → int)
        int or long or short or byte or sbyte or uint or ulong or ushort or decimal => JsonNode.Parse(Convert.ToString(value, CultureInfo.InvariantCulture)!),
        double d => double.IsFinite(d) ? JsonNode.Parse(d.ToString("R", CultureInfo.InvariantCulture)) : throw new FlareJsonl.RowException("a number is NaN or infinite"),
        float f => double.IsFinite(f) ? JsonNode.Parse(((double)f).ToString("R", CultureInfo.InvariantCulture)) : throw new FlareJsonl.RowException("a number is NaN or infinite"),
        IDictionary => throw new FlareJsonl.RowException("unexpected struct column"),
        IEnumerable list => new JsonArray(list.Cast<object?>().Select(ToNode).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
