using System.Text.Json;
using FinQLora.Cuda;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Benchmarks;

/// <summary>
/// `bench --nf4-dequant`: on CUDA, checks the fused dequantization kernel against the tensor-ops
/// reference bit for bit on every linear shape of the model, then measures both paths' bandwidth;
/// also prints the resident size of the NF4 model. One JSON object per line.
/// </summary>
public static class Nf4Check
{
    public static IEnumerable<string> Run(Device device, LlamaConfig shape, int repeats)
    {
        long h = shape.HiddenSize, f = shape.IntermediateSize, q = (long)shape.NumAttentionHeads * shape.HeadDim, kv = (long)shape.NumKeyValueHeads * shape.HeadDim;
        if (device.type == TorchSharp.DeviceType.CUDA)
        {
            foreach (var s in new long[][] { [q, h], [kv, h], [h, q], [f, h], [h, f], [7, 13] })
            {
                using var scope = NewDisposeScope();
                random.manual_seed(1);
                var state = Nf4.Quantize(normal(0, 0.02, s, ScalarType.BFloat16, device));
                foreach (var dtype in new[] { ScalarType.BFloat16, ScalarType.Float32 })
                {
                    var ops = Nf4.DequantizeWithOps(state, dtype);
                    var kernel = Nf4Kernel.Dequantize(state, dtype);
                    bool equal = kernel.eq(ops).all().item<bool>();   // random normal weights: no NaN, so equal values are equal bits up to the sign of zero
                    yield return JsonSerializer.Serialize(new { check = "kernel_equals_ops", shape = s, dtype = dtype.ToString(), bitwise_equal = equal });
                }
            }
        }
        if (device.type == TorchSharp.DeviceType.CUDA)
        {
            yield return JsonSerializer.Serialize(new { path = "copy_", bandwidth_g_bps = Nf4Benchmark.CopyBandwidthGBps(device) }, BenchJson.Options);
            yield return JsonSerializer.Serialize(Nf4Benchmark.Run(device, shape, Math.Max(1, repeats), useKernel: true), BenchJson.Options);
        }
        yield return JsonSerializer.Serialize(Nf4Benchmark.Run(device, shape, Math.Max(1, repeats), useKernel: false), BenchJson.Options);
        yield return JsonSerializer.Serialize(Nf4Memory.Estimate(shape), BenchJson.Options);
    }
}
