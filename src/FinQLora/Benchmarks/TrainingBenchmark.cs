using System.Diagnostics;
using FinQLora.Cuda;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Runtime;
using FinQLora.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Benchmarks;

/// <summary>
/// Times training steps (forward, loss, backward, AdamW step) and greedy decoding on random weights.
/// GPU memory comes from the CUDA driver (TorchSharp exposes no allocator statistics): the memory the
/// process holds on the device above what it held before the model existed. libtorch's caching
/// allocator never returns memory during the run, so after the steps that equals the peak reserved.
/// </summary>
public static class TrainingBenchmark
{
    public static BenchResult Run(BenchSettings s, Action<string>? log = null)
    {
        var config = s.ResolveShape();
        var device = DeviceSpec.Parse(s.Device);
        var dtype = DeviceSpec.ParseDType(s.DType);
        bool cudaDev = device.type == TorchSharp.DeviceType.CUDA;
        if (cudaDev)
        {
            using var warm = ones(1, device: device);
            cuda.synchronize();
            // LoRA's fp32 matmuls (and full fine-tuning's none) may use TF32 tensor cores, as the trainer does on CUDA
            backends.cuda.matmul.allow_tf32 = s.Tf32;
        }
        long baseline = cudaDev ? CudaDriver.DeviceMemoryUsedBytes() : 0;
        string quantize = s.Method == "qlora" ? "nf4" : "none";
        log?.Invoke($"building {s.Shape} with random weights ({s.Method}, {dtype}, {device})");
        using var model = LlamaBuilder.Random(config, new ModelLoadOptions(device, dtype, quantize, s.Seed));
        if (cudaDev) cuda.synchronize();
        // the model's memory: allocated bytes under the stream-ordered allocator, else what the process holds (incl. cached temporaries)
        long resident = !cudaDev ? 0 : GpuMemory.Read(device.index < 0 ? 0 : device.index).AllocatedBytes ?? CudaDriver.DeviceMemoryUsedBytes() - baseline;
        // the peaks reported are those of the measured work, not of generating random weights (fp32 temporaries of the embeddings)
        if (cudaDev) GpuMemory.ResetPeak(device.index < 0 ? 0 : device.index);
        return s.Generate ? Decode(s, model, config, device, baseline, resident, log) : Train(s, model, config, device, dtype, baseline, resident, log);
    }

    private static BenchResult Train(BenchSettings s, LlamaForCausalLM model, LlamaConfig config, Device device, ScalarType dtype,
        long baseline, long resident, Action<string>? log)
    {
        bool cudaDev = device.type == TorchSharp.DeviceType.CUDA;
        IReadOnlyList<Parameter> trainable;
        if (s.Method == "full")
        {
            foreach (var p in model.parameters()) p.requires_grad_(true);
            trainable = model.parameters().ToList();
        }
        else
        {
            var lora = new Adapters.LoraSettings(s.LoraR, s.LoraAlpha, 0.0, s.Targets);
            trainable = Adapters.LoraInjector.Inject(model, lora, "default", trainable: true, seed: s.Seed).Select(p => p.Param).ToList();
        }
        long trainableCount = trainable.Sum(p => p.NumberOfElements);
        long totalCount = ParameterCount(model, config);
        using var optimizer = optim.AdamW(trainable, lr: 1e-4, beta1: 0.9, beta2: 0.999);   // torch.optim.AdamW defaults (TorchSharp's factory defaults beta2 to 0.99)
        var times = new List<double>();
        var phases = new List<IReadOnlyList<PhaseTime>>();
        bool profile = s.Profile && cudaDev;
        var allPositions = Enumerable.Range(0, s.Batch * (s.Seq - 1)).Select(i => (long)i).ToArray();
        for (int step = 0; step < s.Warmup + s.Steps; step++)
        {
            using var scope = NewDisposeScope();
            Runtime.Seeding.SeedAll(s.Seed + 1 + step);
            var ids = randint(0, config.VocabSize, [s.Batch, s.Seq], ScalarType.Int64, device);
            if (cudaDev) cuda.synchronize();
            using var timer = profile ? new PhaseTimer() : null;
            timer?.Start();
            var clock = Stopwatch.StartNew();
            var loss = CausalLmLoss.Compute(model, ids, ids, null, null, s.GradientCheckpointing, step, s.LossChunk, timer is null ? null : timer.Mark,
                labelled: allPositions);   // every position has a label; known on the host, as the trainer knows its batches'
            (loss.Sum / Math.Max(1, loss.Tokens)).backward();
            AutogradHandoff.Release();
            timer?.Mark("backward");
            optimizer.step();
            optimizer.zero_grad();
            timer?.Mark("optimizer");
            if (cudaDev) cuda.synchronize();
            if (step >= s.Warmup) times.Add(clock.Elapsed.TotalSeconds);
            if (step >= s.Warmup && timer is not null) phases.Add(timer.Finish());
            log?.Invoke($"step {step + 1}/{s.Warmup + s.Steps}: {clock.Elapsed.TotalMilliseconds:F1} ms{(step < s.Warmup ? " (warm-up)" : "")}");
        }
        double median = Median(times);
        double tokensPerS = s.Batch * s.Seq / median;
        long peak = cudaDev ? CudaDriver.DeviceMemoryUsedBytes() - baseline : 0;
        var pool = cudaDev ? GpuMemory.Read(device.index < 0 ? 0 : device.index) : null;
        var layerProfile = profile ? Benchmarks.LayerProfile.Run(model, s, device, dtype) : null;
        // 6N per token for full fine-tuning (forward 2N, backward 4N), 4N without weight gradients; plus attention 12·L·d·s.
        double flopsPerToken = (s.Method == "full" ? 6.0 : 4.0) * totalCount + 12.0 * config.NumHiddenLayers * config.HiddenSize * s.Seq;
        return new BenchResult
        {
            Method = s.Method, Shape = s.Shape, Batch = s.Batch, Seq = s.Seq, GradCkpt = s.GradientCheckpointing ? "on" : "off",
            LoraR = s.Method == "full" ? null : s.LoraR, Targets = s.Method == "full" ? null : string.Join(",", s.Targets),
            StepTimeMs = median * 1000, TokensPerS = tokensPerS,
            PeakReservedGib = cudaDev ? pool?.PeakReservedBytes is { } r ? GpuMemory.Gib(r) : peak / (double)(1L << 30) : null,
            PeakAllocatedGib = pool?.PeakAllocatedBytes is { } a ? GpuMemory.Gib(a) : null,
            ResidentGib = resident / (double)(1L << 30),
            TrainableParams = trainableCount, TotalParams = totalCount,
            StorageBytes = s.Method == "full" ? totalCount * 2 : trainableCount * 2,
            Mfu = cudaDev ? tokensPerS * flopsPerToken / PeakFlops(dtype) : null,
            Device = DeviceName(device),
            Note = !cudaDev ? null : pool?.PeakAllocatedBytes is not null
                ? "memory: peak allocated and reserved of the stream-ordered allocator (PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync)"
                : "memory: device memory held by the process above its pre-model baseline, from the CUDA driver (≈ peak reserved)",
            Phases = phases.Count == 0 ? null : phases[0].Select((p, i) => new PhaseTime(p.Phase, MedianOf(phases.Select(x => x[i].GpuMs)), MedianOf(phases.Select(x => x[i].HostMs)))).ToList(),
            LayerProfile = layerProfile,
        };
    }

    private static BenchResult Decode(BenchSettings s, LlamaForCausalLM model, LlamaConfig config, Device device, long baseline, long resident, Action<string>? log)
    {
        bool cudaDev = device.type == TorchSharp.DeviceType.CUDA;
        var rng = new Random((int)s.Seed);
        var prompts = Enumerable.Range(0, s.Batch).Select(_ => Enumerable.Range(0, s.PromptLen).Select(_ => rng.Next(0, 128000)).ToArray()).ToList();
        var options = new Inference.GenerationOptions(MaxNewTokens: s.NewTokens);
        var times = new List<double>();
        for (int i = 0; i < s.Warmup + s.Steps; i++)
        {
            if (cudaDev) cuda.synchronize();
            var clock = Stopwatch.StartNew();
            var outputs = Inference.TextGenerator.Generate(model, prompts, new HashSet<int>(), 0, options);
            if (cudaDev) cuda.synchronize();
            if (outputs.Any(o => o.TokenIds.Length != s.NewTokens)) throw new InvalidOperationException("decode benchmark: a row stopped early");
            if (i >= s.Warmup) times.Add(clock.Elapsed.TotalSeconds);
            log?.Invoke($"run {i + 1}/{s.Warmup + s.Steps}: {clock.Elapsed.TotalMilliseconds:F0} ms{(i < s.Warmup ? " (warm-up)" : "")}");
        }
        double median = Median(times);
        long peak = cudaDev ? CudaDriver.DeviceMemoryUsedBytes() - baseline : 0;
        return new BenchResult
        {
            Method = "generate-" + (s.Method == "qlora" ? "nf4" : s.DType), Shape = s.Shape, Batch = s.Batch, PromptLen = s.PromptLen, NewTokens = s.NewTokens,
            TotalTimeMs = median * 1000, NewTokensPerS = s.Batch * s.NewTokens / median,
            PeakReservedGib = cudaDev ? peak / (double)(1L << 30) : null, ResidentGib = resident / (double)(1L << 30),
            TotalParams = ParameterCount(model, config), Device = DeviceName(device),
        };
    }

    /// <summary>Parameters of the model as a dense model would count them (quantized weights count as their element count).</summary>
    public static long ParameterCount(LlamaForCausalLM model, LlamaConfig c)
    {
        long perLayer = (long)c.HiddenSize * c.NumAttentionHeads * c.HeadDim * 2 + (long)c.HiddenSize * c.NumKeyValueHeads * c.HeadDim * 2
                        + 3L * c.HiddenSize * c.IntermediateSize + 2L * c.HiddenSize;
        long embed = (long)c.VocabSize * c.HiddenSize;
        return embed * (c.TieWordEmbeddings ? 1 : 2) + c.HiddenSize + perLayer * c.NumHiddenLayers;
    }

    private static double PeakFlops(ScalarType dtype) => dtype == ScalarType.Float32 ? 67e12 : 989e12;   // H100/H200 SXM dense

    private static string DeviceName(Device device) =>
        device.type == TorchSharp.DeviceType.CUDA && CudaDriver.TryInit(out _) ? CudaDriver.Devices()[device.index < 0 ? 0 : device.index].Name : "cpu";

    private static double MedianOf(IEnumerable<double> xs) => Median(xs.ToList());

    private static double Median(List<double> xs)
    {
        if (xs.Count == 0) throw new FinQLoraException("bench: --steps must be at least 1");
        var sorted = xs.OrderBy(x => x).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
