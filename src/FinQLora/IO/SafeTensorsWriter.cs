using System.Text;
using System.Text.Json;
using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>
/// Writes safetensors files: an 8-byte header length, a JSON header padded with spaces to a
/// multiple of 8, then the tensors' bytes in header order. Written to a temporary file in the same
/// folder and renamed into place, so a crash never leaves a half-written file under the final name.
/// </summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>();
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, t) in list)
        {
            long bytes = t.NumberOfElements * t.ElementSize;
            header[name] = new { dtype = SafeTensorDTypes.FromScalarType(t.dtype), shape = t.shape, data_offsets = new[] { offset, offset + bytes } };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(header));
        int padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, stream =>
        {
            stream.Write(BitConverter.GetBytes((ulong)padded));
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, t) in list)
            {
                using var scope = NewDisposeScope();
                var cpu = t.detach().cpu().contiguous();
                stream.Write(cpu.bytes);
            }
        }, expectedBytes: 8 + padded + offset);
    }
}
