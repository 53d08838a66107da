using System.Runtime.InteropServices;

namespace FinQLora.Cuda;

public static partial class CudaDriver
{
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] private static partial int cuMemGetInfo(out nuint free, out nuint total);
    [LibraryImport(Lib)] private static partial int cuDeviceGetDefaultMemPool(out IntPtr pool, int device);
    [LibraryImport(Lib)] private static partial int cuMemPoolGetAttribute(IntPtr pool, int attribute, out ulong value);
    [LibraryImport(Lib)] private static partial int cuMemPoolSetAttribute(IntPtr pool, int attribute, in ulong value);

    // CUmemPool_attribute
    private const int PoolReservedCurrent = 5, PoolReservedHigh = 6, PoolUsedCurrent = 7, PoolUsedHigh = 8;

    /// <summary>
    /// Device memory in use (total − free) on the current context's device, as the driver sees it:
    /// everything this process holds there (libtorch's cached blocks included) plus other processes.
    /// libtorch must have made its context current on this thread (any CUDA tensor op does).
    /// </summary>
    public static long DeviceMemoryUsedBytes()
    {
        Check(cuMemGetInfo(out var free, out var total), "cuMemGetInfo");
        return (long)(total - free);
    }

    /// <summary>Bytes in use and reserved by a device's default stream-ordered memory pool, now and at their highest.</summary>
    public sealed record PoolStats(long UsedBytes, long UsedHighBytes, long ReservedBytes, long ReservedHighBytes);

    /// <summary>The default memory pool's statistics of device <paramref name="ordinal"/> (what cudaMallocAsync allocates from).</summary>
    public static PoolStats DefaultPoolStats(int ordinal)
    {
        var pool = DefaultPool(ordinal);
        ulong Get(int attribute)
        {
            Check(cuMemPoolGetAttribute(pool, attribute, out var v), "cuMemPoolGetAttribute");
            return v;
        }
        return new PoolStats((long)Get(PoolUsedCurrent), (long)Get(PoolUsedHigh), (long)Get(PoolReservedCurrent), (long)Get(PoolReservedHigh));
    }

    /// <summary>Resets the default pool's high-water marks to the current values (the driver accepts only 0, meaning "reset").</summary>
    public static void ResetDefaultPoolHighWater(int ordinal)
    {
        var pool = DefaultPool(ordinal);
        Check(cuMemPoolSetAttribute(pool, PoolUsedHigh, 0UL), "cuMemPoolSetAttribute(USED_MEM_HIGH)");
        Check(cuMemPoolSetAttribute(pool, PoolReservedHigh, 0UL), "cuMemPoolSetAttribute(RESERVED_MEM_HIGH)");
    }

    private static IntPtr DefaultPool(int ordinal)
    {
        Check(cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        Check(cuDeviceGetDefaultMemPool(out var pool, dev), "cuDeviceGetDefaultMemPool");
        return pool;
    }
}
