using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FinQLora.Runtime;

/// <summary>
/// Prepares native loading before TorchSharp initialises:
/// 1. the libstdc++ shim (build/libstdcxx.targets) where the build placed one beside us;
/// 2. an installed libtorch named by FINQLORA_LIBTORCH (e.g. a PyTorch's torch/lib with CUDA),
///    loaded globally so libLibTorchSharp resolves its dependencies to it.
/// </summary>
public static class NativeBootstrap
{
    public const string LibTorchEnv = "FINQLORA_LIBTORCH";
    public const string AllocConfEnv = "PYTORCH_CUDA_ALLOC_CONF";
    private static readonly object Gate = new();
    private static bool _done;

    /// <summary>The libtorch folder loaded from FINQLORA_LIBTORCH, if any.</summary>
    public static string? LibTorchDir { get; private set; }

    // A library module initializer on purpose: any program that touches FinQLora gets the native
    // set-up before its first TorchSharp call, without having to remember to ask for it.
#pragma warning disable CA2255
    [ModuleInitializer]
    internal static void Init() => Ensure();
#pragma warning restore CA2255

    public static void Ensure()
    {
        lock (Gate)
        {
            if (_done) return;
            _done = true;
            if (!OperatingSystem.IsLinux()) return;
            // libtorch's CUDA caching allocator with expandable segments fragments less on varying sequence lengths
            // (QLoRA 8B, 2 × 2048: 24.1 → 20.0 GiB held, docs/PERFORMANCE.md). Set natively, before libtorch reads it,
            // unless the user chose a configuration.
            if (Environment.GetEnvironmentVariable(AllocConfEnv) is null) setenv(AllocConfEnv, "expandable_segments:True", 0);
            var shim = Path.Combine(AppContext.BaseDirectory, "libfinqlora_stdcxx_shim.so");
            if (File.Exists(shim)) DlOpenGlobal(shim, required: true);
            if (EnvironmentSettings.Current.LibTorch is { } dir) LoadLibTorch(dir);
        }
    }

    private static void LoadLibTorch(string dir)
    {
        if (!File.Exists(Path.Combine(dir, "libtorch.so")))
            throw new FinQLoraException($"{LibTorchEnv}={dir}: no libtorch.so in that folder (expected a libtorch 'lib' folder, e.g. .../site-packages/torch/lib)");
        // Dependencies first; the CUDA ones only where present.
        foreach (var name in new[] { "libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so" })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) DlOpenGlobal(path, required: true);
        }
        LibTorchDir = dir;
    }

    private static void DlOpenGlobal(string path, bool required)
    {
        const int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;
        if (dlopen(path, RTLD_NOW | RTLD_GLOBAL) == IntPtr.Zero && required)
            throw new FinQLoraException($"could not load {path}: {Marshal.PtrToStringAnsi(dlerror())}");
    }

    [DllImport("libc", EntryPoint = "dlopen")] private static extern IntPtr dlopen(string file, int mode);
    [DllImport("libc", EntryPoint = "dlerror")] private static extern IntPtr dlerror();
    [DllImport("libc", EntryPoint = "setenv")] private static extern int setenv(string name, string value, int overwrite);
}
