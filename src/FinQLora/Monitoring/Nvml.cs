using System.Runtime.InteropServices;

namespace FinQLora.Monitoring;

/// <summary>
/// The few NVML calls the GPU monitor needs, bound at run time from libnvidia-ml.so.1 (nvml.dll on
/// Windows) so that a machine without the NVIDIA driver simply reports "not available".
/// </summary>
internal sealed unsafe class Nvml : IDisposable
{
    private const int Success = 0;
    private const int TemperatureGpu = 0;  // NVML_TEMPERATURE_GPU
    private const int ClockSm = 1;         // NVML_CLOCK_SM

    [StructLayout(LayoutKind.Sequential)] private struct Utilization { public uint Gpu; public uint Memory; }
    [StructLayout(LayoutKind.Sequential)] private struct Memory { public ulong Total; public ulong Free; public ulong Used; }

    private readonly IntPtr _lib;
    private readonly delegate* unmanaged<int> _shutdown;
    private readonly delegate* unmanaged<uint, IntPtr*, int> _handleByIndex;
    private readonly delegate* unmanaged<IntPtr, Utilization*, int> _utilization;
    private readonly delegate* unmanaged<IntPtr, Memory*, int> _memory;
    private readonly delegate* unmanaged<IntPtr, uint*, int> _power;
    private readonly delegate* unmanaged<IntPtr, int, uint*, int> _temperature;
    private readonly delegate* unmanaged<IntPtr, int, uint*, int> _clock;
    private readonly IntPtr[] _devices;
    private bool _disposed;

    public int DeviceCount => _devices.Length;

    private Nvml(IntPtr lib, IntPtr[] devices)
    {
        _lib = lib;
        _devices = devices;
        _shutdown = (delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "nvmlShutdown");
        _handleByIndex = (delegate* unmanaged<uint, IntPtr*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetHandleByIndex_v2");
        _utilization = (delegate* unmanaged<IntPtr, Utilization*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetUtilizationRates");
        _memory = (delegate* unmanaged<IntPtr, Memory*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetMemoryInfo");
        _power = (delegate* unmanaged<IntPtr, uint*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetPowerUsage");
        _temperature = (delegate* unmanaged<IntPtr, int, uint*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetTemperature");
        _clock = (delegate* unmanaged<IntPtr, int, uint*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetClockInfo");
    }

    /// <summary>Initialises NVML and finds the GPUs; null with the reason when there is no NVIDIA driver or GPU.</summary>
    public static Nvml? TryOpen(out string? reason)
    {
        var name = OperatingSystem.IsWindows() ? "nvml.dll" : "libnvidia-ml.so.1";
        if (!NativeLibrary.TryLoad(name, out var lib))
        {
            reason = $"no NVIDIA GPU monitoring: {name} (the NVIDIA driver's NVML library) was not found";
            return null;
        }
        try
        {
            var init = (delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "nvmlInit_v2");
            int rc = init();
            if (rc != Success) { reason = $"no NVIDIA GPU monitoring: nvmlInit_v2 failed ({ErrorString(lib, rc)})"; NativeLibrary.Free(lib); return null; }
            var count = (delegate* unmanaged<uint*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetCount_v2");
            uint n = 0;
            rc = count(&n);
            var handleByIndex = (delegate* unmanaged<uint, IntPtr*, int>)NativeLibrary.GetExport(lib, "nvmlDeviceGetHandleByIndex_v2");
            var devices = new List<IntPtr>();
            for (uint i = 0; rc == Success && i < n; i++)
            {
                IntPtr h;
                if (handleByIndex(i, &h) == Success) devices.Add(h);
            }
            if (devices.Count == 0)
            {
                ((delegate* unmanaged<int>)NativeLibrary.GetExport(lib, "nvmlShutdown"))();
                NativeLibrary.Free(lib);
                reason = "no NVIDIA GPU monitoring: NVML found no GPU";
                return null;
            }
            reason = null;
            return new Nvml(lib, [.. devices]);
        }
        catch (EntryPointNotFoundException e)
        {
            NativeLibrary.Free(lib);
            reason = $"no NVIDIA GPU monitoring: {name} lacks {e.Message}";
            return null;
        }
    }

    /// <summary>One reading of GPU <paramref name="index"/>; a value the GPU does not report is null.</summary>
    public GpuReadingSnapshot Read(int index)
    {
        var d = _devices[index];
        Utilization u;
        Memory m;
        uint power, temp, clock;
        bool hasU = _utilization(d, &u) == Success;
        bool hasM = _memory(d, &m) == Success;
        bool hasP = _power(d, &power) == Success;
        bool hasT = _temperature(d, TemperatureGpu, &temp) == Success;
        bool hasC = _clock(d, ClockSm, &clock) == Success;
        return new GpuReadingSnapshot(
            hasU ? u.Gpu : null,
            hasM ? (long)(m.Used / (1024 * 1024)) : null,
            hasM ? (long)(m.Total / (1024 * 1024)) : null,
            hasP ? Math.Round(power / 1000.0, 1) : null,
            hasT ? temp : null,
            hasC ? clock : null);
    }

    private static string ErrorString(IntPtr lib, int rc)
    {
        if (!NativeLibrary.TryGetExport(lib, "nvmlErrorString", out var f)) return $"error {rc}";
        var s = ((delegate* unmanaged<int, IntPtr>)f)(rc);
        return $"{Marshal.PtrToStringUTF8(s)} ({rc})";
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _shutdown();
        NativeLibrary.Free(_lib);
    }
}
