using System.Collections.Concurrent;

namespace FinQLora.Cuda;

/// <summary>
/// CUDA C source compiled with NVRTC on first use for each device's architecture and loaded into
/// libtorch's context; functions are looked up by name and cached. PTX is the fallback where the
/// driver is older than NVRTC's cubin format.
/// </summary>
public sealed class KernelModule(string source, string name, params string[] options)
{
    private readonly ConcurrentDictionary<int, IntPtr> _modules = new();
    private readonly ConcurrentDictionary<(int, string), IntPtr> _functions = new();
    private readonly object _gate = new();

    /// <summary>The function <paramref name="kernel"/> (an extern "C" __global__) on device <paramref name="ordinal"/>, compiling the module first if needed.</summary>
    public IntPtr Function(int ordinal, string kernel)
    {
        CudaDriver.EnsureContext(ordinal);
        if (_functions.TryGetValue((ordinal, kernel), out var f)) return f;
        f = CudaDriver.GetFunction(Module(ordinal), kernel);
        _functions[(ordinal, kernel)] = f;
        return f;
    }

    private IntPtr Module(int ordinal)
    {
        if (_modules.TryGetValue(ordinal, out var m)) return m;
        lock (_gate)
        {
            if (_modules.TryGetValue(ordinal, out m)) return m;
            int current = CudaDriver.CurrentDevice();
            if (current != ordinal)
                throw new FinQLoraException($"kernels run on the current CUDA device ({current}), but the tensors are on cuda:{ordinal}");
            var (major, minor) = CudaDriver.ComputeCapability(ordinal);
            if (CudaDriver.TryLoadModule(Nvrtc.Compile(source, name, major, minor, false, options), out m) != 0)
                m = CudaDriver.LoadModule(Nvrtc.Compile(source, name, major, minor, true, options));   // driver older than NVRTC's cubin
            _modules[ordinal] = m;
            return m;
        }
    }
}
