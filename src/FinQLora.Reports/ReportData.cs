using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Monitoring;

namespace FinQLora.Reports;

/// <summary>A GPU monitor sample (gpu.jsonl).</summary>
public sealed record GpuSample(double TimeS, int Gpu, double? UtilPct, double? MemUsedMib, double? MemTotalMib);

/// <summary>One training run folder as the report reads it; missing files give empty series.</summary>
public sealed record RunData(string Dir, string Name, IReadOnlyList<TrainMetrics> Train, IReadOnlyList<ValMetrics> Val, IReadOnlyList<GpuSample> Gpu, string? ConfigYaml, string? EnvJson)
{
    /// <summary>Reads the run folder; bad lines of metrics.jsonl are skipped with one warning to <paramref name="warn"/> (default: stderr).</summary>
    public static RunData Load(string dir, Action<string>? warn = null)
    {
        var metrics = Path.Combine(dir, "metrics.jsonl");
        var (train, val) = File.Exists(metrics) ? MetricsJsonl.Read(metrics, warn) : ([], []);
        var gpu = new List<GpuSample>();
        var gpuPath = Path.Combine(dir, "gpu.jsonl");
        if (File.Exists(gpuPath))
            foreach (var (_, line) in IO.LineReader.Read(gpuPath, strictUtf8: false))
            {
                if (string.IsNullOrWhiteSpace(line)) continue;
                try
                {
                    if (IO.JsonFile.ParseNode(line) is not JsonObject o || o["t_s"] is null) continue;
                    double? D(string k) => o[k] is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
                    gpu.Add(new GpuSample(D("t_s") ?? 0, (int)(D("gpu") ?? 0), D("util_pct"), D("mem_used_mib"), D("mem_total_mib")));
                }
                catch (JsonException) { }   // a torn last line of a killed run
            }
        string? Text(string f) => File.Exists(Path.Combine(dir, f)) ? IO.InputFile.ReadText(Path.Combine(dir, f), IO.JsonFile.MaxConfigBytes) : null;
        return new RunData(dir, Path.GetFileName(Path.GetFullPath(dir).TrimEnd('/')), train, val, gpu, Text("config.yaml"), Text("env.json"));
    }

    /// <summary>model.path of the run's resolved config.yaml, or null.</summary>
    public string? ModelPath => ConfigYaml is not null && ModelPathLine.Match(ConfigYaml) is { Success: true } m ? m.Groups[1].Value.Trim().Trim('"', '\'') : null;

    /// <summary>True when the run trained on the quickstart's random-weight model ("tiny", or a folder holding it).</summary>
    public bool RandomWeights => ModelPath is { } p && (p == Model.TinyModel.Name || Model.TinyModel.IsTinyModel(p));

    private static readonly System.Text.RegularExpressions.Regex ModelPathLine = new(@"(?m)^model:[ \t]*\r?\n[ \t]+path:[ \t]*(.+?)[ \t]*\r?$");

    /// <summary>A curriculum folder's stage runs (its sub-folders with metrics.jsonl), or the folder itself.</summary>
    public static IEnumerable<RunData> Expand(string dir, Action<string>? warn = null)
    {
        if (File.Exists(Path.Combine(dir, "metrics.jsonl"))) return [Load(dir, warn)];
        return Directory.Exists(dir)
            ? Directory.GetDirectories(dir).Where(d => File.Exists(Path.Combine(d, "metrics.jsonl"))).Order(StringComparer.Ordinal).Select(d => Load(d, warn))
            : throw new FinQLoraException($"--runs {dir}: folder not found");
    }
}

/// <summary>A bench result line (bench --json, or tools/bench/reference_bench.py).</summary>
public sealed record BenchRow(string Side, string Method, string Shape, double? TokensPerS, double? PeakGib, double? ResidentGib, long? Trainable, long? Total, long? StorageBytes, string Raw)
{
    public static IEnumerable<BenchRow> Load(string path)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"--bench {path}: file not found");
        var text = IO.InputFile.ReadText(path, IO.JsonFile.MaxConfigBytes).Trim();
        IEnumerable<JsonNode?> nodes = text.StartsWith('[') ? JsonNode.Parse(text)!.AsArray() : text.Split('\n').Where(l => l.Trim().Length > 0).Select(l => JsonNode.Parse(l));
        foreach (var n in nodes)
        {
            if (n is not JsonObject o || o["method"] is null) continue;
            double? D(string k) => o[k] is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;
            long? L(string k) => D(k) is { } d ? (long)d : null;
            yield return new BenchRow(o["side"]?.ToString() ?? "finqlora", o["method"]!.ToString(), o["shape"]?.ToString() ?? "", D("tokens_per_s") ?? D("new_tokens_per_s"),
                D("peak_allocated_gib") ?? D("peak_reserved_gib"), D("resident_gib"), L("trainable_params"), L("total_params"), L("storage_bytes"), o.ToJsonString());
        }
    }
}
