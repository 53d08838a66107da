using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>
/// Writes a Hugging Face model's weights the way save_pretrained does: one model.safetensors when
/// everything fits in <c>maxShardBytes</c>, otherwise model-00001-of-0000N.safetensors shards and
/// model.safetensors.index.json ({"metadata": {"total_size"}, "weight_map"}). Tensors are held (on
/// the CPU) only until their shard is full, so at most one shard's bytes are in memory. A tensor
/// larger than the limit gets a shard of its own.
/// </summary>
public sealed class ShardedCheckpointWriter : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    private readonly string _dir;
    private readonly long _maxShardBytes;
    private readonly Dictionary<string, Tensor> _pending = new(StringComparer.Ordinal);
    private readonly List<(string TempName, List<string> Names)> _shards = [];
    private long _pendingBytes;
    private long _totalBytes;

    public ShardedCheckpointWriter(string dir, long maxShardBytes)
    {
        if (maxShardBytes <= 0) throw new FinQLoraException($"max shard size must be > 0 bytes, got {maxShardBytes}");
        _dir = dir;
        _maxShardBytes = maxShardBytes;
        Directory.CreateDirectory(dir);
    }

    /// <summary>
    /// Takes ownership of <paramref name="t"/> (moved to the CPU): it is detached from any dispose
    /// scope, so a caller's scope ending before the shard is written cannot free it.
    /// </summary>
    public void Add(string name, Tensor t)
    {
        if (_pending.ContainsKey(name) || _shards.Any(s => s.Names.Contains(name))) throw new InvalidOperationException($"tensor '{name}' written twice");
        long bytes = t.NumberOfElements * t.ElementSize;
        if (_pendingBytes > 0 && _pendingBytes + bytes > _maxShardBytes) Flush();
        var cpu = (t.device.type == TorchSharp.DeviceType.CPU ? t : t.cpu()).DetachFromDisposeScope();
        if (!ReferenceEquals(cpu, t)) t.Dispose();
        _pending[name] = cpu;
        _pendingBytes += bytes;
        _totalBytes += bytes;
    }

    private void Flush()
    {
        if (_pending.Count == 0) return;
        var temp = $"shard-{_shards.Count + 1:00000}.safetensors.partial";
        SafeTensorsWriter.Write(Path.Combine(_dir, temp), _pending, new Dictionary<string, string> { ["format"] = "pt" });
        _shards.Add((temp, _pending.Keys.ToList()));
        foreach (var t in _pending.Values) t.Dispose();
        _pending.Clear();
        _pendingBytes = 0;
    }

    /// <summary>Writes the last shard, names the shards, and writes the index when there are several. Returns the file names.</summary>
    public IReadOnlyList<string> Finish()
    {
        Flush();
        if (_shards.Count == 0) throw new FinQLoraException("no tensors to write");
        if (_shards.Count == 1)
        {
            File.Move(Path.Combine(_dir, _shards[0].TempName), Path.Combine(_dir, SingleFile), overwrite: true);
            return [SingleFile];
        }
        var files = new List<string>();
        var map = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < _shards.Count; i++)
        {
            var name = string.Create(CultureInfo.InvariantCulture, $"model-{i + 1:00000}-of-{_shards.Count:00000}.safetensors");
            File.Move(Path.Combine(_dir, _shards[i].TempName), Path.Combine(_dir, name), overwrite: true);
            foreach (var t in _shards[i].Names) map[t] = name;
            files.Add(name);
        }
        var index = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = _totalBytes },
            ["weight_map"] = new JsonObject(map.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
        };
        AtomicFile.WriteAllText(Path.Combine(_dir, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        files.Add(IndexFile);
        return files;
    }

    public void Dispose()
    {
        foreach (var t in _pending.Values) t.Dispose();
        _pending.Clear();
    }

    /// <summary>Parses "5GB", "500MB", "2GiB", "1000000" (bytes) as save_pretrained's max_shard_size does (GB = 10⁹, GiB = 2³⁰).</summary>
    public static long ParseSize(string text)
    {
        var s = text.Trim().ToUpperInvariant();
        (string Suffix, long Factor)[] units = [("GIB", 1L << 30), ("MIB", 1L << 20), ("KIB", 1L << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1_000), ("B", 1)];
        foreach (var (suffix, factor) in units)
            if (s.EndsWith(suffix, StringComparison.Ordinal) && double.TryParse(s[..^suffix.Length], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0)
                return (long)(v * factor);
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var bytes) && bytes > 0) return bytes;
        throw new FinQLoraException($"shard size '{text}' is not a size: use e.g. 5GB, 500MB, 2GiB or a number of bytes");
    }
}
