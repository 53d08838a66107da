using System.Runtime.InteropServices;

namespace FinQLora.Cuda;

/// <summary>Module loading, kernel launches and events, for kernels compiled at run time with NVRTC.</summary>
public static partial class CudaDriver
{
    [LibraryImport(Lib)] private static partial int cuCtxGetCurrent(out IntPtr ctx);
    [LibraryImport(Lib)] private static partial int cuCtxGetDevice(out int device);
    [LibraryImport(Lib)] private static partial int cuCtxSetCurrent(IntPtr ctx);
    [LibraryImport(Lib, EntryPoint = "cuDevicePrimaryCtxRetain")] private static partial int cuDevicePrimaryCtxRetain(out IntPtr ctx, int device);
    [LibraryImport(Lib)] private static partial int cuCtxSynchronize();
    [LibraryImport(Lib)] private static partial int cuModuleLoadData(out IntPtr module, IntPtr image);
    [LibraryImport(Lib)] private static partial int cuModuleUnload(IntPtr module);
    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)] private static partial int cuModuleGetFunction(out IntPtr function, IntPtr module, string name);
    [LibraryImport(Lib)] private static partial int cuLaunchKernel(IntPtr f, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemBytes, IntPtr stream, IntPtr kernelParams, IntPtr extra);
    [LibraryImport(Lib)] private static partial int cuEventCreate(out IntPtr ev, uint flags);
    [LibraryImport(Lib)] private static partial int cuEventRecord(IntPtr ev, IntPtr stream);
    [LibraryImport(Lib)] private static partial int cuEventSynchronize(IntPtr ev);
    [LibraryImport(Lib)] private static partial int cuEventElapsedTime(out float ms, IntPtr start, IntPtr end);
    [LibraryImport(Lib, EntryPoint = "cuEventDestroy_v2")] private static partial int cuEventDestroy(IntPtr ev);

    /// <summary>
    /// The legacy default stream (0): the one libtorch launches on unless a caller set another
    /// current stream, which TorchSharp never does.
    /// </summary>
    public static readonly IntPtr DefaultStream = IntPtr.Zero;

    /// <summary>The CUDA context current on this thread (libtorch's primary context once any CUDA tensor exists).</summary>
    public static IntPtr CurrentContext()
    {
        Check(cuCtxGetCurrent(out var ctx), "cuCtxGetCurrent");
        if (ctx == IntPtr.Zero)
            throw new FinQLoraException("no CUDA context is current on this thread: create a CUDA tensor first so libtorch initialises its context");
        return ctx;
    }

    /// <summary>
    /// Makes sure a context is current on this thread for device <paramref name="ordinal"/>: libtorch's
    /// (the device's primary context, which the runtime API binds lazily per thread) if none is yet.
    /// </summary>
    public static void EnsureContext(int ordinal)
    {
        Check(cuCtxGetCurrent(out var ctx), "cuCtxGetCurrent");
        if (ctx != IntPtr.Zero) return;
        Check(cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        Check(cuDevicePrimaryCtxRetain(out var primary, dev), "cuDevicePrimaryCtxRetain");
        Check(cuCtxSetCurrent(primary), "cuCtxSetCurrent");
    }

    /// <summary>The device ordinal of the current context.</summary>
    public static int CurrentDevice()
    {
        Check(cuCtxGetDevice(out var dev), "cuCtxGetDevice");
        return dev;
    }

    /// <summary>(major, minor) compute capability of device <paramref name="ordinal"/>.</summary>
    public static (int Major, int Minor) ComputeCapability(int ordinal)
    {
        Check(cuDeviceGet(out var dev, ordinal), "cuDeviceGet");
        Check(cuDeviceGetAttribute(out var major, 75, dev), "cuDeviceGetAttribute");
        Check(cuDeviceGetAttribute(out var minor, 76, dev), "cuDeviceGetAttribute");
        return (major, minor);
    }

    public static void Synchronize() => Check(cuCtxSynchronize(), "cuCtxSynchronize");

    /// <summary>Loads a cubin or NUL-terminated PTX image into the current context.</summary>
    public static unsafe IntPtr LoadModule(byte[] image)
    {
        fixed (byte* p = image)
        {
            Check(cuModuleLoadData(out var module, (IntPtr)p), "cuModuleLoadData");
            return module;
        }
    }

    /// <summary>Like <see cref="LoadModule"/>, but returns the driver's error code instead of throwing.</summary>
    public static unsafe int TryLoadModule(byte[] image, out IntPtr module)
    {
        fixed (byte* p = image) return cuModuleLoadData(out module, (IntPtr)p);
    }

    public static IntPtr GetFunction(IntPtr module, string name)
    {
        Check(cuModuleGetFunction(out var f, module, name), $"cuModuleGetFunction({name})");
        return f;
    }

    /// <summary>
    /// Launches <paramref name="function"/> with <paramref name="args"/>: pointers to each argument's
    /// value, in the kernel's parameter order (the driver copies the values at launch).
    /// </summary>
    public static unsafe void Launch(IntPtr function, uint grid, uint block, IntPtr stream, ReadOnlySpan<IntPtr> args, uint sharedBytes = 0)
    {
        fixed (IntPtr* a = args)
            Check(cuLaunchKernel(function, grid, 1, 1, block, 1, 1, sharedBytes, stream, (IntPtr)a, IntPtr.Zero), "cuLaunchKernel");
    }

    /// <summary>A pair of events around GPU work on a stream; <see cref="ElapsedMs"/> waits for the end.</summary>
    public sealed class EventTimer : IDisposable
    {
        private readonly IntPtr _start, _end;

        public EventTimer()
        {
            Check(cuEventCreate(out _start, 0), "cuEventCreate");
            Check(cuEventCreate(out _end, 0), "cuEventCreate");
        }

        public void Start(IntPtr stream) => Check(cuEventRecord(_start, stream), "cuEventRecord");
        public void Stop(IntPtr stream) => Check(cuEventRecord(_end, stream), "cuEventRecord");

        public float ElapsedMs()
        {
            Check(cuEventSynchronize(_end), "cuEventSynchronize");
            Check(cuEventElapsedTime(out var ms, _start, _end), "cuEventElapsedTime");
            return ms;
        }

        public void Dispose()
        {
            cuEventDestroy(_start);
            cuEventDestroy(_end);
        }
    }

    /// <summary>One CUDA event on the default stream (timing marks between GPU work).</summary>
    public sealed class Event : IDisposable
    {
        private readonly IntPtr _ev;

        public Event() => Check(cuEventCreate(out _ev, 0), "cuEventCreate");

        /// <summary>Records the event after the work enqueued so far on the default stream.</summary>
        public void Record() => Check(cuEventRecord(_ev, DefaultStream), "cuEventRecord");

        /// <summary>Milliseconds of GPU time from <paramref name="start"/> to <paramref name="end"/> (waits for <paramref name="end"/>).</summary>
        public static float ElapsedMs(Event start, Event end)
        {
            Check(cuEventSynchronize(end._ev), "cuEventSynchronize");
            Check(cuEventElapsedTime(out var ms, start._ev, end._ev), "cuEventElapsedTime");
            return ms;
        }

        public void Dispose() => cuEventDestroy(_ev);
    }
}
