using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorInfo(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
    public long ElementCount => Shape.Aggregate(1L, (a, d) => checked(a * d));
}

/// <summary>
/// A memory-mapped safetensors file. The header is validated when the file is opened (size cap,
/// offsets inside the data section, dtype × shape = byte length, no overlaps); tensors are copied
/// straight from the mapping into their destination, one at a time.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    /// <summary>Headers above this size are refused (the format's reference implementation uses 100 MB).</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorInfo> _tensors;

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<SafeTensorInfo> Tensors => _tensors.Values;
    public IEnumerable<string> Names => _tensors.Keys;

    private SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _map = map; _view = view; _dataStart = dataStart; _tensors = tensors; Metadata = metadata;
    }

    public static SafeTensorsFile Open(string path)
    {
        InputFile.RequireRegular(path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw new FinQLoraException($"{path}: not a safetensors file (only {length} bytes)");
        byte[] header;
        using (var stream = InputFile.OpenRead(path))
        {
            Span<byte> lenBytes = stackalloc byte[8];
            stream.ReadExactly(lenBytes);
            ulong headerLen = BitConverter.ToUInt64(lenBytes);
            if (headerLen > MaxHeaderBytes) throw new FinQLoraException($"{path}: header size {headerLen} exceeds the {MaxHeaderBytes}-byte cap (corrupt or not safetensors)");
            if ((long)headerLen > length - 8) throw new FinQLoraException($"{path}: truncated: header says {headerLen} bytes but the file has {length - 8} after the length field");
            header = new byte[headerLen];
            stream.ReadExactly(header);
        }
        long dataStart = 8 + header.Length;
        var (tensors, metadata) = ParseHeader(path, header, length - dataStart);
        if (length == dataStart) return new SafeTensorsFile(path, null, null, dataStart, tensors, metadata);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
        return new SafeTensorsFile(path, map, view, dataStart, tensors, metadata);
    }

    internal static (Dictionary<string, SafeTensorInfo>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        using var doc = JsonFile.Parse(header, path + " (header)");
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new FinQLoraException($"{path}: header is not a JSON object");
        var tensors = new Dictionary<string, SafeTensorInfo>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>();
        foreach (var prop in doc.RootElement.EnumerateObject())
        {
            if (prop.Name == "__metadata__")
            {
                if (prop.Value.ValueKind != JsonValueKind.Object) throw new FinQLoraException($"{path}: __metadata__ must be an object of strings");
                foreach (var m in prop.Value.EnumerateObject())
                    metadata[m.Name] = JsonFile.String(m.Value) ?? throw new FinQLoraException($"{path}: __metadata__.{m.Name} must be a string");
                continue;
            }
            tensors[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
        }
        // No two tensors may share bytes.
        SafeTensorInfo? previous = null;
        foreach (var t in tensors.Values.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin))
        {
            if (previous is not null && t.Begin < previous.End)
                throw new FinQLoraException($"{path}: tensors '{previous.Name}' and '{t.Name}' overlap ({previous.Begin}-{previous.End} and {t.Begin}-{t.End})");
            previous = t;
        }
        return (tensors, metadata);
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        string Where() => $"{path}: tensor '{name}'";
        if (e.ValueKind != JsonValueKind.Object) throw new FinQLoraException($"{Where()}: entry is not an object");
        if (!e.TryGetProperty("dtype", out var dt) || JsonFile.String(dt) is not { } dtype) throw new FinQLoraException($"{Where()}: missing dtype");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw new FinQLoraException($"{Where()}: missing shape");
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new FinQLoraException($"{Where()}: data_offsets must be [begin, end]");
        int elementSize = SafeTensorDTypes.ElementSize(dtype) ?? throw new FinQLoraException($"{Where()}: unsupported dtype '{dtype}' (supported: {string.Join(", ", SafeTensorDTypes.Names)})");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0) throw new FinQLoraException($"{Where()}: shape entries must be non-negative integers");
            shape[i++] = v;
        }
        if (off[0].ValueKind != JsonValueKind.Number || off[1].ValueKind != JsonValueKind.Number
            || !off[0].TryGetInt64(out var begin) || !off[1].TryGetInt64(out var end) || begin < 0 || end < begin)
            throw new FinQLoraException($"{Where()}: invalid data_offsets");
        if (end > dataLength) throw new FinQLoraException($"{Where()}: data_offsets [{begin}, {end}] run past the end of the data ({dataLength} bytes): truncated or corrupt file");
        long expected;
        try { expected = checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * elementSize); }
        catch (OverflowException) { throw new FinQLoraException($"{Where()}: shape [{string.Join(", ", shape)}] overflows"); }
        if (expected != end - begin)
            throw new FinQLoraException($"{Where()}: {dtype} [{string.Join(", ", shape)}] needs {expected} bytes but data_offsets span {end - begin}");
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public SafeTensorInfo Info(string name) =>
        _tensors.TryGetValue(name, out var info) ? info : throw new FinQLoraException($"{Path}: no tensor named '{name}'");

    /// <summary>Copies one tensor out of the file, optionally converting dtype and moving it to a device.</summary>
    public Tensor Load(string name, Device? device = null, ScalarType? dtype = null)
    {
        var info = Info(name);
        var stored = SafeTensorDTypes.ToScalarType(info.DType);
        using var scope = NewDisposeScope();
        var t = empty(info.Shape, stored);
        if (info.ByteLength > 0) CopyBytes(info, t.bytes);
        // NaN/Inf in a weight runs and gives garbage (or a crash far away, in a JSON writer): refused where it is read, naming file and tensor
        if (t.is_floating_point() && info.ByteLength > 0 && !isfinite(t).all().item<bool>())
            throw new FinQLoraException($"{Path}: tensor '{name}' holds NaN or Inf values (a corrupt file, or weights saved from a diverged run)");
        if (dtype is { } d && d != stored) t = t.to(d);
        if (device is not null && device.type != DeviceType.CPU) t = t.to(device);
        return t.MoveToOuterDisposeScope();
    }

    /// <summary>The raw bytes of a tensor (used for bitsandbytes' JSON quant_state).</summary>
    public byte[] ReadBytes(string name)
    {
        var info = Info(name);
        var bytes = new byte[info.ByteLength];
        CopyBytes(info, bytes);
        return bytes;
    }

    private unsafe void CopyBytes(SafeTensorInfo info, Span<byte> destination)
    {
        byte* basePtr = null;
        _view!.SafeMemoryMappedViewHandle.AcquirePointer(ref basePtr);
        try
        {
            var src = new ReadOnlySpan<byte>(basePtr + _view.PointerOffset + _dataStart + info.Begin, checked((int)Math.Min(info.ByteLength, int.MaxValue)));
            if (info.ByteLength <= int.MaxValue) { src.CopyTo(destination); return; }
            // Tensors over 2 GiB: copy in chunks.
            for (long done = 0; done < info.ByteLength;)
            {
                int n = (int)Math.Min(1L << 30, info.ByteLength - done);
                new ReadOnlySpan<byte>(basePtr + _view.PointerOffset + _dataStart + info.Begin + done, n).CopyTo(destination[(int)done..]);
                done += n;
            }
        }
        finally
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }
}
