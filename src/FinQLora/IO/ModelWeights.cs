using System.Text.Json;
using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>
/// The weights of a Hugging Face model folder: a single model.safetensors, or shards listed in
/// model.safetensors.index.json. Shards are opened lazily and tensors copied one at a time.
/// PyTorch pickle checkpoints are refused: no pickle is ever deserialized.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private readonly string _dir;
    private readonly Dictionary<string, string> _fileOf;   // tensor name -> file name
    private readonly Dictionary<string, SafeTensorsFile> _open = new();

    public IEnumerable<string> Names => _fileOf.Keys;

    private ModelWeights(string dir, Dictionary<string, string> fileOf) { _dir = dir; _fileOf = fileOf; }

    /// <summary>model.safetensors.index.json files above this size are refused (Llama-3.1-405B's is under 100 KB).</summary>
    public const long MaxIndexBytes = 64L << 20;

    public static ModelWeights Open(string dir)
    {
        if (!Directory.Exists(dir)) throw new FinQLoraException($"{dir}: model folder not found");
        var index = Path.Combine(dir, "model.safetensors.index.json");
        var single = Path.Combine(dir, "model.safetensors");
        if (File.Exists(index)) return FromIndex(dir, index);
        if (File.Exists(single))
        {
            var f = SafeTensorsFile.Open(single);
            var w = new ModelWeights(dir, f.Names.ToDictionary(n => n, _ => "model.safetensors"));
            w._open["model.safetensors"] = f;
            return w;
        }
        var others = Directory.GetFiles(dir, "*.safetensors");
        if (others.Length == 1)
        {
            var f = SafeTensorsFile.Open(others[0]);
            var name = Path.GetFileName(others[0]);
            var w = new ModelWeights(dir, f.Names.ToDictionary(n => n, _ => name));
            w._open[name] = f;
            return w;
        }
        if (Directory.GetFiles(dir, "*.bin").Concat(Directory.GetFiles(dir, "*.pt")).Concat(Directory.GetFiles(dir, "*.pth")).Any())
            throw new FinQLoraException($"{dir}: only PyTorch pickle weights (*.bin/*.pt) found; FinQLora never loads pickles. Convert them to safetensors first (e.g. in Python: model.save_pretrained(dir, safe_serialization=True)).");
        throw new FinQLoraException($"{dir}: no model.safetensors or model.safetensors.index.json");
    }

    private static ModelWeights FromIndex(string dir, string indexPath)
    {
        using var doc = JsonFile.Parse(InputFile.ReadBytes(indexPath, MaxIndexBytes), indexPath);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new FinQLoraException($"{indexPath}: missing weight_map");
        var fileOf = new Dictionary<string, string>();
        foreach (var p in map.EnumerateObject())
        {
            var file = JsonFile.String(p.Value) ?? "";
            if (file.Length == 0 || file.Contains('/') || file.Contains('\\') || file.Contains("..") || file.Any(char.IsControl) || Path.IsPathRooted(file))
                throw new FinQLoraException($"{indexPath}: weight_map entry '{p.Name}' names an invalid file '{file}'");
            fileOf[p.Name] = file;
        }
        foreach (var file in fileOf.Values.Distinct())
            if (!File.Exists(Path.Combine(dir, file)))
                throw new FinQLoraException($"{indexPath}: shard '{file}' listed in the index is missing from {dir}");
        return new ModelWeights(dir, fileOf);
    }

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    private SafeTensorsFile FileFor(string name)
    {
        if (!_fileOf.TryGetValue(name, out var file)) throw new FinQLoraException($"{_dir}: weight '{name}' not found in the checkpoint");
        if (!_open.TryGetValue(file, out var f))
        {
            f = SafeTensorsFile.Open(Path.Combine(_dir, file));
            _open[file] = f;
        }
        if (!f.Contains(name)) throw new FinQLoraException($"{f.Path}: the index says it holds '{name}' but it does not");
        return f;
    }

    public SafeTensorInfo Info(string name) => FileFor(name).Info(name);

    public Tensor Load(string name, Device? device = null, ScalarType? dtype = null) => FileFor(name).Load(name, device, dtype);

    public byte[] ReadBytes(string name) => FileFor(name).ReadBytes(name);

    public void Dispose()
    {
        foreach (var f in _open.Values) f.Dispose();
        _open.Clear();
    }
}
