using FinQLora.Benchmarks;
using FinQLora.Cuda;
using FinQLora.Quantization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

/// <summary>The fused CUDA kernel against the tensor-ops path (skipped without a CUDA device).</summary>
public class Nf4KernelTests(ITestOutputHelper output)
{
    private static Tensor Weights(long rows, long cols, int seed, bool zeroBlock)
    {
        random.manual_seed(seed);
        var w = normal(0, 0.02, [rows, cols], device: CUDA);
        if (zeroBlock) w.view(-1)[TensorIndex.Slice(0, Math.Min(64, w.numel()))] = zeros(Math.Min(64, w.numel()), device: CUDA);
        return w;
    }

    public static TheoryData<long, long, int, bool, string> Shapes() => new()
    {
        { 64, 128, 64, true, "nf4" },
        { 33, 47, 64, true, "nf4" },       // odd count, partial last block
        { 1, 31, 32, true, "nf4" },        // fewer values than one thread's 32
        { 300, 4096, 64, true, "nf4" },
        { 256, 1000, 128, false, "nf4" },
        { 17, 4099, 4096, true, "nf4" },
        { 128, 96, 32, false, "nf4" },
        { 77, 129, 64, true, "fp4" },
    };

    [CudaFact]
    public void Nvrtc_compiles_the_kernel_for_this_GPU()
    {
        using var t = zeros(1, device: CUDA);   // makes libtorch's context current
        Assert.True(Nvrtc.IsAvailable(out var error), error);
        var (major, minor) = CudaDriver.ComputeCapability(CudaDriver.CurrentDevice());
        var cubin = Nvrtc.Compile(Nf4Kernel.Source, "nf4_dequant.cu", major, minor);
        Assert.NotEmpty(cubin);
        Assert.NotEmpty(Nvrtc.Compile(Nf4QuantizeKernel.Source, "nf4_quantize.cu", major, minor, false, "--use_fast_math"));
        output.WriteLine($"{Nvrtc.LoadedPath}: sm_{major}{minor}, cubin {cubin.Length} bytes");
    }

    [CudaFact]
    public void The_kernel_equals_the_tensor_ops_path_bit_for_bit()
    {
        foreach (var row in Shapes())
        {
            var (rows, cols, bs, dq, type) = ((long)row[0], (long)row[1], (int)row[2], (bool)row[3], (string)row[4]);
            using var scope = NewDisposeScope();
            var w = Weights(rows, cols, (int)(rows * 31 + cols), zeroBlock: true);
            using var s = Nf4.Quantize(w, bs, dq, type == "nf4" ? Bnb4BitType.Nf4 : Bnb4BitType.Fp4);
            foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float32 })
            {
                var fused = Nf4Kernel.Dequantize(s, dtype);
                var reference = Nf4.DequantizeWithOps(s, dtype);
                Assert.Equal(reference.shape, fused.shape);
                var a = fused.cpu().bytes.ToArray();
                var b = reference.cpu().bytes.ToArray();
                Assert.True(a.AsSpan().SequenceEqual(b), $"[{rows}, {cols}] bs {bs} {type} double={dq} {dtype}: {a.Zip(b).Count(p => p.First != p.Second)} bytes differ");
            }
        }
    }

    [CudaFact]
    public void Quantizing_with_tensor_ops_on_the_GPU_gives_the_same_bytes_as_on_the_CPU()
    {
        using var scope = NewDisposeScope();
        var w = Weights(96, 640, 5, zeroBlock: true);
        using var gpu = Nf4.Quantize(w, 64, true, Bnb4BitType.Nf4, useKernel: false);
        using var cpu = Nf4.Quantize(w.cpu());
        Assert.Equal(cpu.Packed.bytes.ToArray(), gpu.Packed.cpu().bytes.ToArray());
        // offset = mean(absmax): CPU and CUDA reductions may round differently in the last place,
        // and the nested statistics follow the offset; compare them only when the offsets agree
        Assert.True(Math.Abs(cpu.Nested!.Offset - gpu.Nested!.Offset) <= 1e-6f * cpu.Nested.Offset);
        output.WriteLine($"offset cpu {cpu.Nested.Offset:R} gpu {gpu.Nested.Offset:R}");
        if (cpu.Nested.Offset == gpu.Nested.Offset)
        {
            Assert.Equal(cpu.Absmax.bytes.ToArray(), gpu.Absmax.cpu().bytes.ToArray());
            Assert.Equal(cpu.Nested.Absmax.data<float>().ToArray(), gpu.Nested.Absmax.cpu().data<float>().ToArray());
        }
    }

    [CudaFact]
    public void The_fast_math_quantization_kernel_agrees_with_tensor_ops_except_at_rare_ties()
    {
        // The kernel uses the approximate reciprocal bitsandbytes gets from --use_fast_math; tensor ops
        // use IEEE division. They may differ only where x/absmax lies within an ulp of a code boundary.
        Assert.True(Nvrtc.IsAvailable(out var error), error);
        foreach (var (rows, cols, bs, type) in new[] { (512L, 4096L, 64, Bnb4BitType.Nf4), (33L, 47L, 32, Bnb4BitType.Nf4), (300L, 1001L, 128, Bnb4BitType.Fp4) })
        {
            using var scope = NewDisposeScope();
            var w = Weights(rows, cols, 17, zeroBlock: true).to(ScalarType.BFloat16);
            using var kernel = Nf4.Quantize(w, bs, true, type, useKernel: true);
            using var ops = Nf4.Quantize(w, bs, true, type, useKernel: false);
            Assert.Null(Nf4QuantizeKernel.Failure);
            var a = kernel.Packed.cpu().bytes.ToArray();
            var b = ops.Packed.cpu().bytes.ToArray();
            int differ = a.Zip(b).Count(p => p.First != p.Second);
            output.WriteLine($"[{rows}, {cols}] bs {bs} {type}: {differ} of {a.Length} packed bytes differ; offsets {kernel.Nested!.Offset:R} / {ops.Nested!.Offset:R}");
            Assert.Equal(a.Length, b.Length);
            Assert.True(differ <= Math.Max(2, a.Length / 10_000), $"{differ} bytes differ");
            Assert.Equal(ops.Nested.Absmax.numel(), kernel.Nested.Absmax.numel());
            Assert.True(allclose(Nf4.DequantizeAbsmax(kernel), Nf4.DequantizeAbsmax(ops), 1e-5, 1e-9));
        }
    }

    [CudaFact]
    public void Nf4Linear_on_CUDA_uses_the_kernel_and_matches_the_reference()
    {
        using var scope = NewDisposeScope();
        var w = Weights(256, 512, 9, zeroBlock: false).to(ScalarType.BFloat16);
        using var layer = new Nf4Linear(w, ScalarType.BFloat16);
        var x = randn(4, 512, device: CUDA).to(ScalarType.BFloat16);
        var y = layer.call(x);
        Assert.Null(Nf4Kernel.Failure);
        var expected = nn.functional.linear(x, Nf4.DequantizeWithOps(layer.State, ScalarType.BFloat16));
        Assert.True(y.equal(expected).all().item<bool>());
    }

    [CudaFact]
    public void Dequantization_bandwidth_over_the_8B_linear_shapes()
    {
        foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float32 })
        {
            var r = Nf4Benchmark.Run(CUDA, repeats: 5, output: dtype);
            var line = $"{r.Path} -> {dtype}: {r.Elements / 1e9:F2} G values, {r.BytesPerPass / 1e9:F2} GB per pass, " +
                       $"{r.SecondsPerPass * 1e3:F2} ms, {r.BandwidthGBps:F0} GB/s; resident {r.ResidentBytes / (double)(1L << 30):F2} GiB";
            output.WriteLine(line);
            Console.WriteLine("NF4 dequant " + line);
            Assert.StartsWith("kernel", r.Path);
            Assert.True(r.BandwidthGBps > 100, line);
        }
    }
}

/// <summary>
/// Bytes produced by bitsandbytes itself (tests/fixtures/nf4/bnb_golden.json, written on a GPU by
/// check_bnb.py --write), compared with quantization on CUDA. Skipped without CUDA or that file.
/// </summary>
public class Nf4BitsandbytesTests
{
    private static readonly string File_ = Path.Combine(AppContext.BaseDirectory, "fixtures", "nf4", "bnb_golden.json");

    [CudaFact]
    public void Quantizing_on_CUDA_reproduces_bitsandbytes_bytes()
    {
        if (!File.Exists(File_)) return;   // made on the GPU machine; see check_bnb.py
        var golden = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(File_))!.AsObject();
        foreach (var c in golden["cases"]!.AsArray())
        {
            var shape = c!["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
            int bs = c["blocksize"]!.GetValue<int>();
            bool dq = c["double_quant"]!.GetValue<bool>();
            var type = c["quant_type"]!.GetValue<string>() == "nf4" ? Bnb4BitType.Nf4 : Bnb4BitType.Fp4;
            using var scope = NewDisposeScope();
            var w = tensor(Nf4GoldenTests.LcgValues(shape[0] * shape[1], bs, c["seed"]!.GetValue<ulong>()), device: CUDA).view(shape);
            using var s = Nf4.Quantize(w, bs, dq, type);
            var packed = s.Packed.cpu().bytes.ToArray();
            Assert.Equal(c["packed_sha256"]!.GetValue<string>(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(packed)));
            if (dq) Assert.Equal(c["qabsmax"]!.GetValue<string>(), Convert.ToHexStringLower(s.Absmax.cpu().bytes.ToArray()));
            var bf16 = Nf4.Dequantize(s, ScalarType.BFloat16).cpu().bytes.ToArray();
            Assert.Equal(c["dequant_bf16_sha256"]!.GetValue<string>(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bf16)));
        }
    }
}
