namespace FinQLora.Cuda;

/// <summary>What a process holds on a GPU, in bytes. Allocated figures exist only under the stream-ordered allocator.</summary>
/// <param name="HeldBytes">Device memory in use as the driver sees it (total − free).</param>
/// <param name="AllocatedBytes">Bytes in live tensors now (libtorch's allocated), or null.</param>
/// <param name="PeakAllocatedBytes">Highest allocated since the last <see cref="GpuMemory.ResetPeak"/>, or null.</param>
/// <param name="ReservedBytes">Bytes the allocator holds from the driver now (libtorch's reserved), or null.</param>
/// <param name="PeakReservedBytes">Highest reserved since the last reset, or null.</param>
public sealed record GpuMemorySnapshot(long HeldBytes, long? AllocatedBytes, long? PeakAllocatedBytes, long? ReservedBytes, long? PeakReservedBytes);

/// <summary>
/// GPU memory as libtorch uses it. TorchSharp exposes none of the caching allocator's statistics,
/// but libtorch can allocate through CUDA's stream-ordered allocator instead
/// (<c>PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync</c>, which allocates from the device's default
/// memory pool); the driver then reports that pool's used (= allocated) and reserved bytes, current and
/// peak. With libtorch's own caching allocator (the default) only the held total is known.
/// </summary>
public static class GpuMemory
{
    public const string AllocConfEnv = "PYTORCH_CUDA_ALLOC_CONF";

    /// <summary>True when libtorch was told to allocate with cudaMallocAsync (read once at start-up by libtorch, so read from the environment here).</summary>
    public static bool StreamOrdered =>
        Environment.GetEnvironmentVariable(AllocConfEnv)?.Replace(" ", "").Contains("backend:cudaMallocAsync", StringComparison.Ordinal) == true;

    public static GpuMemorySnapshot Read(int ordinal)
    {
        long held = CudaDriver.DeviceMemoryUsedBytes();
        if (!StreamOrdered) return new GpuMemorySnapshot(held, null, null, null, null);
        var p = CudaDriver.DefaultPoolStats(ordinal);
        return new GpuMemorySnapshot(held, p.UsedBytes, p.UsedHighBytes, p.ReservedBytes, p.ReservedHighBytes);
    }

    /// <summary>Starts a new peak window (no effect without the stream-ordered allocator).</summary>
    public static void ResetPeak(int ordinal)
    {
        if (StreamOrdered) CudaDriver.ResetDefaultPoolHighWater(ordinal);
    }

    public static double Gib(long bytes) => bytes / (double)(1L << 30);
}
