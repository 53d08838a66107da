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
    public void Tasks(TaskMetrics m) => Append(JsonSerializer.Serialize(m, Json));

    public static string Line(TrainMetrics m) => JsonSerializer.Serialize(m, Json);
    public static string Line(ValMetrics m) => JsonSerializer.Serialize(m, Json);

    private void Append(string line)
    {
        _stream.Write(Encoding.UTF8.GetBytes(line + "\n"));
        _stream.Flush();
    }

    /// <summary>
    /// Reads the train and val lines of a metrics.jsonl. Lines of other kinds are ignored; a bad line (torn by
    /// a killed process, not JSON, a train or val line without a numeric step or with a field of the wrong
    /// type) is skipped, and one warning per file goes to <paramref name="warn"/> (default: stderr) naming
    /// file:line of the first and how many there were: a report should not die on one torn line of a log.
    /// </summary>
    public static (IReadOnlyList<TrainMetrics> Train, IReadOnlyList<ValMetrics> Val) Read(string path, Action<string>? warn = null)
    {
        var train = new List<TrainMetrics>();
        var val = new List<ValMetrics>();
        var bad = new List<(int Line, string Why)>();
        foreach (var (lineNo, line) in LineReader.Read(path, strictUtf8: false))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonFile.ParseNode(line) is not JsonObject o) throw new FormatException("not a JSON object");
                var kind = o["kind"] is null ? null : o["kind"]!.GetValue<string>();
                if (kind is not ("train" or "val")) continue;
                if (StepOf(o) is null) throw new FormatException("\"step\" is missing or not a whole number");
                if (o["stage"] is not JsonValue stage || !stage.TryGetValue<string>(out _)) throw new FormatException("\"stage\" is missing or not a string");
                if (kind == "train") train.Add(o.Deserialize<TrainMetrics>(Json)!);
                else val.Add(o.Deserialize<ValMetrics>(Json)!);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)   // ArgumentException: a key twice
            {
                bad.Add((lineNo, JsonFile.OneLine(e.Message)));
            }
        }
        if (bad.Count > 0)
            (warn ?? Console.Error.WriteLine)($"warning: {path}:{bad[0].Line}: skipped a bad line ({bad[0].Why})" +
                (bad.Count > 1 ? $" and {bad.Count - 1} more (lines {string.Join(", ", bad.Skip(1).Take(10).Select(b => b.Line))}{(bad.Count > 11 ? ", …" : "")})" : ""));
        return (train, val);
    }

    /// <summary>
    /// The task-metrics lines of a metrics.jsonl (<see cref="TaskMetrics"/>), for the report. Other kinds are ignored; a bad
    /// tasks line is skipped, with one warning per file as in <see cref="Read"/>.
    /// </summary>
    public static IReadOnlyList<TaskMetrics> ReadTasks(string path, Action<string>? warn = null)
    {
        var result = new List<TaskMetrics>();
        var bad = new List<int>();
        foreach (var (lineNo, line) in LineReader.Read(path, strictUtf8: false))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                if (JsonFile.ParseNode(line) is not JsonObject o || o["kind"] is not JsonValue k || !k.TryGetValue<string>(out var kind) || kind != "tasks") continue;
                if (StepOf(o) is null || o.Deserialize<TaskMetrics>(Json) is not { Stage: not null, Metrics: not null, Rows: not null } m) throw new FormatException("incomplete");
                result.Add(m);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
            {
                bad.Add(lineNo);
            }
        }
        if (bad.Count > 0) (warn ?? Console.Error.WriteLine)($"warning: {path}:{bad[0]}: skipped a bad tasks line{(bad.Count > 1 ? $" and {bad.Count - 1} more" : "")}");
        return result;
    }

    /// <summary>The line's <c>step</c> when it is a whole number, else null.</summary>
    private static long? StepOf(JsonObject o) => o["step"] is JsonValue v && v.TryGetValue<long>(out var s) ? s : null;

    /// <summary>
    /// Rewrites <paramref name="path"/> (atomically) keeping only the lines with a numeric step up to
    /// <paramref name="step"/>: lines of later steps, torn lines and lines without a numeric step are dropped
    /// (every line FinQLora writes has one).
    /// </summary>
    public static void TruncateAfter(string path, long step)
    {
        if (!File.Exists(path)) return;
        var kept = new StringBuilder();
        foreach (var (_, line) in LineReader.Read(path, strictUtf8: false))
        {
            long? s;
            try { s = JsonFile.ParseNode(line) is JsonObject o ? StepOf(o) : null; }
            catch (Exception e) when (e is JsonException or ArgumentException) { continue; }
            if (s is null || s > step) continue;
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
