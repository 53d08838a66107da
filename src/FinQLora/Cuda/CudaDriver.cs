using System.Runtime.InteropServices;
using System.Text;

namespace FinQLora.Cuda;

/// <summary>
/// The few CUDA driver API entry points FinQLora calls directly (libcuda.so.1): device
/// queries for `finqlora env`, and module loading / kernel launches for the NVRTC kernels.
/// Every call's result is checked.
/// </summary>
public static partial class CudaDriver
{
    private const string Lib = "libcuda.so.1";

    [LibraryImport(Lib)] private static partial int cuInit(uint flags);
    [LibraryImport(Lib)] private static partial int cuDriverGetVersion(out int version);
    [LibraryImport(Lib)] private static partial int cuDeviceGetCount(out int count);
    [LibraryImport(Lib)] private static partial int cuDeviceGet(out int device, int ordinal);
    [LibraryImport(Lib)] private static unsafe partial int cuDeviceGetName(byte* name, int len, int device);
    [LibraryImport(Lib, EntryPoint = "cuDeviceTotalMem_v2")] private static partial int cuDeviceTotalMem(out nuint bytes, int device);
    [LibraryImport(Lib)] private static partial int cuDeviceGetAttribute(out int value, int attribute, int device);
    [LibraryImport(Lib)] private static partial int cuGetErrorString(int error, out IntPtr str);

    public sealed record DeviceInfo(int Ordinal, string Name, long TotalMemoryBytes, int ComputeMajor, int ComputeMinor, int SmCount);

    /// <summary>True where libcuda.so.1 can be loaded and initialised.</summary>
    public static bool TryInit(out string? error)
    {
        try
        {
            Check(cuInit(0), "cuInit");
            error = null;
            return true;
        }
        catch (DllNotFoundException)
        {
            error = "no NVIDIA driver (libcuda.so.1 not found)";
            return false;
        }
        catch (FinQLoraException e)
        {
            error = e.Message;
            return false;
        }
    }

    public static int DriverVersion()
    {
        Check(cuDriverGetVersion(out var v), "cuDriverGetVersion");
        return v;
    }

    public static unsafe IReadOnlyList<DeviceInfo> Devices()
    {
        Check(cuDeviceGetCount(out var count), "cuDeviceGetCount");
        var result = new List<DeviceInfo>();
        var name = stackalloc byte[256];
        for (int i = 0; i < count; i++)
        {
            Check(cuDeviceGet(out var dev, i), "cuDeviceGet");
            Check(cuDeviceGetName(name, 256, dev), "cuDeviceGetName");
            Check(cuDeviceTotalMem(out var bytes, dev), "cuDeviceTotalMem");
            Check(cuDeviceGetAttribute(out var major, 75, dev), "cuDeviceGetAttribute");  // COMPUTE_CAPABILITY_MAJOR
            Check(cuDeviceGetAttribute(out var minor, 76, dev), "cuDeviceGetAttribute");  // COMPUTE_CAPABILITY_MINOR
            Check(cuDeviceGetAttribute(out var sms, 16, dev), "cuDeviceGetAttribute");    // MULTIPROCESSOR_COUNT
            result.Add(new DeviceInfo(i, Marshal.PtrToStringUTF8((IntPtr)name) ?? "?", (long)bytes, major, minor, sms));
        }
        return result;
    }

    public static void Check(int result, string what)
    {
        if (result == 0) return;
        string text = cuGetErrorString(result, out var p) == 0 && p != IntPtr.Zero ? Marshal.PtrToStringAnsi(p) ?? "" : "";
        throw new FinQLoraException($"CUDA driver call {what} failed: error {result} {text}".TrimEnd());
    }
}
