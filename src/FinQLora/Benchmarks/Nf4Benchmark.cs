using System.Diagnostics;
using FinQLora.Cuda;
using FinQLora.Quantization;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Benchmarks;

/// <summary>One dequantization bandwidth measurement (see <see cref="Nf4Benchmark.Run"/>).</summary>
public sealed record Nf4BenchmarkResult(
    string Path,               // "kernel" (fused CUDA) or "tensor-ops"
    string Device,
    int Layers,
    int Repeats,
    long Elements,             // dequantized values per pass over all layers
    long BytesPerPass,         // packed + absmax statistics read, output written
    double SecondsPerPass,
    double BandwidthGBps,      // BytesPerPass / SecondsPerPass / 1e9
    long ResidentBytes,        // the quantized weights held in memory
    double HostSecondsPerPass = 0);  // the host's time to enqueue one pass (≥ SecondsPerPass: launch-bound)

/// <summary>
/// Measures 4-bit dequantization over the linear weights of a Llama shape (default: 3.1-8B, 32
/// layers × q 4096², k/v 1024×4096, o 4096², gate/up 14336×4096, down 4096×14336), quantized from
/// random normal weights once, then dequantized to bf16 (or fp32) <c>repeats</c> times.
/// Time is measured with CUDA events around the whole sweep (after one warm-up sweep), or the wall
/// clock on the CPU. Bytes moved = packed codes + absmax (+ nested absmax) read, outputs written.
/// </summary>
public static class Nf4Benchmark
{
    public static Nf4BenchmarkResult Run(Device device, LlamaConfig? shape = null, int repeats = 5, ScalarType output = ScalarType.BFloat16,
        bool useKernel = true, int? layers = null)
    {
        var c = shape ?? LlamaConfig.Llama31_8B;
        int nLayers = layers ?? c.NumHiddenLayers;
        long h = c.HiddenSize, f = c.IntermediateSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        long[][] shapes = [[q, h], [kv, h], [kv, h], [h, q], [f, h], [f, h], [h, f]];
        var states = new List<Nf4State>();
        try
        {
            // One quantized layer's weights, reused by every layer (the bytes moved are the same,
            // and quantizing 32 layers of random weights would dominate the run).
            random.manual_seed(0);
            foreach (var s in shapes)
            {
                using var scope = NewDisposeScope();
                var w = normal(0, 0.02, s, ScalarType.BFloat16, device);
                states.Add(Nf4.Quantize(w).MoveToOuterDisposeScope());
            }
            bool kernel = useKernel && device.type == TorchSharp.DeviceType.CUDA;
            var outputs = states.Select(s => empty(s.Shape, output, device)).ToList();
            long elements = states.Sum(s => s.NumElements) * nLayers;
            long read = states.Sum(s => s.ResidentBytes - (s.Nested is null ? 0 : s.Nested.Code.numel() * 4)) * nLayers;
            long written = elements * (output == ScalarType.BFloat16 ? 2 : 4);

            void Sweep()
            {
                for (int l = 0; l < nLayers; l++)
                    for (int i = 0; i < states.Count; i++)
                    {
                        if (kernel) Nf4Kernel.DequantizeInto(states[i], outputs[i]);
                        else
                        {
                            using var scope = NewDisposeScope();
                            outputs[i].copy_(Nf4.DequantizeWithOps(states[i], output));
                        }
                    }
            }

            double seconds, hostSeconds;
            Sweep();   // warm-up: compiles the kernel, fills the caching allocator
            if (device.type == TorchSharp.DeviceType.CUDA)
            {
                cuda.synchronize(device);
                using var timer = new CudaDriver.EventTimer();
                timer.Start(CudaDriver.DefaultStream);
                var host = Stopwatch.StartNew();
                for (int r = 0; r < repeats; r++) Sweep();
                hostSeconds = host.Elapsed.TotalSeconds / repeats;
                timer.Stop(CudaDriver.DefaultStream);
                seconds = timer.ElapsedMs() / 1000.0 / repeats;
            }
            else
            {
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < repeats; r++) Sweep();
                seconds = hostSeconds = sw.Elapsed.TotalSeconds / repeats;
            }
            foreach (var o in outputs) o.Dispose();
            long resident = states.Sum(s => s.ResidentBytes) * nLayers;
            var path = kernel ? "kernel" : "tensor-ops";
            return new Nf4BenchmarkResult(path, device.ToString(), nLayers, repeats, elements,
                read + written, seconds, (read + written) / seconds / 1e9, resident, hostSeconds);
        }
        finally
        {
            foreach (var s in states) s.Dispose();
        }
    }

    /// <summary>
    /// The card's copy bandwidth in the same run, the yardstick for the kernel: a 1 GiB bf16
    /// tensor copied with copy_ (bytes read + written) / time, CUDA events over <paramref name="repeats"/> copies.
    /// </summary>
    public static double CopyBandwidthGBps(Device device, int repeats = 20)
    {
        using var scope = NewDisposeScope();
        var src = ones(512L << 20, ScalarType.BFloat16, device);
        var dst = empty_like(src);
        dst.copy_(src);
        cuda.synchronize(device);
        using var timer = new CudaDriver.EventTimer();
        timer.Start(CudaDriver.DefaultStream);
        for (int r = 0; r < repeats; r++) dst.copy_(src);
        timer.Stop(CudaDriver.DefaultStream);
        return 2.0 * src.NumberOfElements * 2 * repeats / (timer.ElapsedMs() / 1000.0) / 1e9;
    }
}
