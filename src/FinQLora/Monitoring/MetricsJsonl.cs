using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using FinQLora.IO;

namespace FinQLora.Monitoring;

/// <summary>
/// metrics.jsonl: one JSON object per line, appended and flushed line by line (each line is one
/// write, so a crash can at worst leave a torn last line, which readers skip). When a run resumes
/// from step k, <see cref="TruncateAfter"/> first drops the lines of steps after k that the
/// interrupted run wrote, so the file ends up as an uninterrupted run's would.
/// </summary>
public sealed class MetricsJsonl : IMetricsSink
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Converters = { new FiniteOrNull() },
    };

    private readonly FileStream _stream;

    public string Path { get; }

    public MetricsJsonl(string path)
    {
        Path = path;
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        _stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
    }

    public void Train(TrainMetrics m) => Append(Line(m));
    public void Val(ValMetrics m) => Append(Line(m));

    public static string Line(TrainMetrics m) => JsonSerializer.Serialize(m, Json);
    public static string Line(ValMetrics m) => JsonSerializer.Serialize(m, Json);

    private void Append(string line)
    {
        _stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        _stream.Flush();
    }

    /// <summary>Reads the train and val lines of a metrics.jsonl; torn or unknown lines are skipped.</summary>
    public static (IReadOnlyList<TrainMetrics> Train, IReadOnlyList<ValMetrics> Val) Read(string path)
    {
        var train = new List<TrainMetrics>();
        var val = new List<ValMetrics>();
        foreach (var line in File.ReadLines(path))
        {
            JsonObject? o;
            try { o = JsonNode.Parse(line) as JsonObject; }
            catch (JsonException) { continue; }
            switch (o?["kind"]?.GetValue<string>())
            {
                case "train": train.Add(o.Deserialize<TrainMetrics>(Json)!); break;
                case "val": val.Add(o.Deserialize<ValMetrics>(Json)!); break;
            }
        }
        return (train, val);
    }

    /// <summary>Rewrites <paramref name="path"/> (atomically) without the lines of steps after <paramref name="step"/> and without torn lines.</summary>
    public static void TruncateAfter(string path, long step)
    {
        if (!File.Exists(path)) return;
        var kept = new StringBuilder();
        foreach (var line in File.ReadLines(path))
        {
            JsonObject? o;
            try { o = JsonNode.Parse(line) as JsonObject; }
            catch (JsonException) { continue; }
            if (o is null) continue;
            if (o["step"] is JsonValue v && v.TryGetValue<long>(out var s) && s > step) continue;
            kept.Append(line).Append('\n');
        }
        AtomicFile.WriteAllText(path, kept.ToString());
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>JSON has no NaN or Infinity: they are written as null and read back as NaN.</summary>
    private sealed class FiniteOrNull : JsonConverter<double>
    {
        public override bool HandleNull => true;
        public override double Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.Null ? double.NaN : reader.GetDouble();

        public override void Write(Utf8JsonWriter writer, double value, JsonSerializerOptions options)
        {
            if (double.IsFinite(value)) writer.WriteNumberValue(value);
            else writer.WriteNullValue();
        }
    }
}
