using System.Runtime.InteropServices;

namespace FinQLora.Cuda;

public static partial class CudaDriver
{
    [LibraryImport(Lib, EntryPoint = "cuMemGetInfo_v2")] private static partial int cuMemGetInfo(out nuint free, out nuint total);

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
}
