namespace FinQLora.Runtime;

/// <summary>
/// The FINQLORA_* environment switches, read once (at their first use, in start-up) into one record: components ask
/// <see cref="Current"/>, not the environment, so no loop reads the environment and every switch is listed here.
/// (The data-parallel rank variables the launcher sets are read once into <c>Distributed.DistributedContext</c>.)
/// </summary>
/// <param name="Home">FINQLORA_HOME: where the tiny model is made (default ~/.cache/finqlora)</param>
/// <param name="LibTorch">FINQLORA_LIBTORCH: an installed libtorch folder to load</param>
/// <param name="Nvrtc">FINQLORA_NVRTC: the NVRTC library file</param>
/// <param name="Nccl">FINQLORA_NCCL: the NCCL library file</param>
/// <param name="Nf4Kernel">FINQLORA_NF4_KERNEL: the CUDA NF4 kernels (0/false/off: tensor ops instead)</param>
/// <param name="FusedKernels">FINQLORA_FUSED: the fused RMSNorm/rotary kernels (0/false/off: tensor ops instead)</param>
/// <param name="OneGpuPerProcess">FINQLORA_ONE_GPU_PER_PROCESS=1: a launched rank sees only its GPU, as cuda:0</param>
/// <param name="DebugDataParallel">FINQLORA_DEBUG_DP=1: each rank logs its micro-batches and loss sums per step</param>
/// <param name="Fault">FINQLORA_FAULT: test-only fault injection (<c>Training.FaultInjection</c>)</param>
public sealed record EnvironmentSettings(string? Home, string? LibTorch, string? Nvrtc, string? Nccl, bool Nf4Kernel, bool FusedKernels,
    bool OneGpuPerProcess, bool DebugDataParallel, string? Fault)
{
    private static readonly Lazy<EnvironmentSettings> _current = new(() => From(Environment.GetEnvironmentVariable));

    /// <summary>This process's settings, read from its environment once.</summary>
    public static EnvironmentSettings Current => _current.Value;

    /// <summary>The settings an environment gives (<paramref name="env"/>: a variable's value, or null when unset).</summary>
    public static EnvironmentSettings From(Func<string, string?> env)
    {
        string? Text(string name) => env(name) is { Length: > 0 } v ? v : null;
        bool On(string name) => env(name) is not ("0" or "false" or "off");
        return new EnvironmentSettings(Text("FINQLORA_HOME"), Text("FINQLORA_LIBTORCH"), Text("FINQLORA_NVRTC"), Text("FINQLORA_NCCL"),
            On("FINQLORA_NF4_KERNEL"), On("FINQLORA_FUSED"), env("FINQLORA_ONE_GPU_PER_PROCESS") == "1",
            env("FINQLORA_DEBUG_DP") == "1", Text("FINQLORA_FAULT"));
    }
}
