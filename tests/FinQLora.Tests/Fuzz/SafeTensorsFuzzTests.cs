using System.Diagnostics;
using System.Text;
using CsCheck;
using FinQLora.IO;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FinQLora.Tests.Fuzz;

/// <summary>safetensors files (IO/SafeTensorsFile.cs): mutated headers and bytes open or are refused with a FinQLoraException.</summary>
public class SafeTensorsFuzzTests(ITestOutputHelper output) : IDisposable
{
    // Three tensors in 32 data bytes, written by hand from the format's description (8-byte little-endian header length, JSON header, data).
    private const string Header =
        """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]},"c":{"dtype":"U8","shape":[0],"data_offsets":[32,32]}}""";

    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private static byte[] File(byte[] header, int dataLength)
    {
        var bytes = new byte[8 + header.Length + dataLength];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        for (int i = 0; i < dataLength; i++) bytes[8 + header.Length + i] = (byte)(i * 37);
        return bytes;
    }

    /// <summary>Opens the file and reads every tensor's bytes (through the memory map): a bad bound would read outside the file.</summary>
    private void OpenAndRead(FuzzCase fuzz, byte[] bytes)
    {
        var path = Path.Combine(_dir, "model.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        fuzz.Run(bytes, () =>
        {
            using var f = SafeTensorsFile.Open(path);
            foreach (var t in f.Tensors)
            {
                Assert.Equal(t.ByteLength, f.ReadBytes(t.Name).LongLength);
                Assert.InRange(t.End, t.Begin, bytes.Length);
                Assert.Equal(t.ByteLength, t.ElementCount * SafeTensorDTypes.ElementSize(t.DType)!.Value);
            }
        });
    }

    private void Report(FuzzCase fuzz, Stopwatch sw) => output.WriteLine(fuzz.Summary(sw.Elapsed));

    [Fact]
    public void The_seed_file_opens()
    {
        var path = Path.Combine(_dir, "seed.safetensors");
        System.IO.File.WriteAllBytes(path, File(Encoding.UTF8.GetBytes(Header), 32));
        using var f = SafeTensorsFile.Open(path);
        Assert.Equal([2L, 3], f.Info("a").Shape);
        Assert.Equal(8, f.ReadBytes("b").Length);
        Assert.Equal("pt", f.Metadata["format"]);
    }

    [Fact]
    public void Mutated_headers_open_or_are_refused_with_a_clear_error()
    {
        var fuzz = new FuzzCase("safetensors-header");
        var sw = Stopwatch.StartNew();
        Gen.Select(Mutations.JsonDocument(Header), Gen.Frequency((3, Gen.Const(32)), (1, Gen.Int[0, 40]))).Sample((header, data) => OpenAndRead(fuzz, File(header, data)), iter: FuzzCase.Iter, threads: 1);
        Report(fuzz, sw);
    }

    [Fact]
    public void Mutated_file_bytes_open_or_are_refused_with_a_clear_error()
    {
        var fuzz = new FuzzCase("safetensors-bytes");
        var seed = File(Encoding.UTF8.GetBytes(Header), 32);
        var sw = Stopwatch.StartNew();
        Mutations.Gen(6).Sample(edits => OpenAndRead(fuzz, Mutations.ApplyBytes(seed, edits)), iter: FuzzCase.Iter, threads: 1);
        Report(fuzz, sw);
    }

    [Fact]
    public void Header_lengths_and_shapes_at_the_limits_are_refused_before_allocating()
    {
        var fuzz = new FuzzCase("safetensors-limits");
        // A header length of up to 2^64 - 1 with a tiny file, and shapes whose element count × size overflows a long.
        Gen.ULong.Sample(len =>
        {
            var bytes = new byte[64];
            BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), len);
            OpenAndRead(fuzz, bytes);
        }, iter: FuzzCase.Iter, threads: 1);
        Gen.Long[0, long.MaxValue].Array[1, 4].Sample(shape =>
        {
            var header = "{\"t\":{\"dtype\":\"F64\",\"shape\":[" + string.Join(",", shape) + "],\"data_offsets\":[0,16]}}";
            OpenAndRead(fuzz, File(Encoding.UTF8.GetBytes(header), 16));
        }, iter: FuzzCase.Iter, threads: 1);
    }

    [Fact]
    public void Written_tensors_read_back_with_their_dtype_shape_and_bytes()
    {
        string[] dtypes = ["F32", "F16", "BF16", "I64", "I32", "U8"];
        var tensorGen = Gen.Select(Gen.Int[0, dtypes.Length - 1], Gen.Int[0, 4].Array[0, 3]);
        tensorGen.Array[1, 5].Sample(specs =>
        {
            using var scope = NewDisposeScope();
            var tensors = specs.Select((s, i) => (Name: $"layer.{i}.weight", Tensor: arange(s.Item2.Aggregate(1L, (a, d) => a * d), ScalarType.Float32)
                .reshape(s.Item2.Select(d => (long)d).ToArray()).to(SafeTensorDTypes.ToScalarType(dtypes[s.Item1])))).ToList();
            var path = Path.Combine(_dir, "rt.safetensors");
            SafeTensorsWriter.Write(path, tensors.Select(t => KeyValuePair.Create(t.Name, t.Tensor)));
            using var f = SafeTensorsFile.Open(path);
            Assert.Equal(tensors.Count, f.Tensors.Count);
            foreach (var (name, tensor) in tensors)
            {
                var info = f.Info(name);
                Assert.Equal(tensor.shape, info.Shape);
                Assert.Equal(SafeTensorDTypes.FromScalarType(tensor.dtype), info.DType);
                Assert.True(f.Load(name).equal(tensor).all().item<bool>());
            }
        }, iter: Math.Min(FuzzCase.Iter, 200), threads: 1);
    }
}
