using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>The safetensors dtype names FinQLora reads and writes, and their TorchSharp types.</summary>
public static class SafeTensorDTypes
{
    private static readonly (string Name, ScalarType Type, int Size)[] Table =
    [
        ("F64", ScalarType.Float64, 8), ("F32", ScalarType.Float32, 4), ("F16", ScalarType.Float16, 2),
        ("BF16", ScalarType.BFloat16, 2), ("I64", ScalarType.Int64, 8), ("I32", ScalarType.Int32, 4),
        ("I16", ScalarType.Int16, 2), ("I8", ScalarType.Int8, 1), ("U8", ScalarType.Byte, 1), ("BOOL", ScalarType.Bool, 1),
    ];

    public static IEnumerable<string> Names => Table.Select(t => t.Name);

    public static int? ElementSize(string name) => Table.Where(t => t.Name == name).Select(t => (int?)t.Size).FirstOrDefault();

    public static ScalarType ToScalarType(string name) =>
        Table.Where(t => t.Name == name).Select(t => (ScalarType?)t.Type).FirstOrDefault()
        ?? throw new FinQLoraException($"unsupported safetensors dtype '{name}'");

    public static string FromScalarType(ScalarType type) =>
        Table.Where(t => t.Type == type).Select(t => t.Name).FirstOrDefault()
        ?? throw new FinQLoraException($"dtype {type} cannot be written to safetensors");
}
