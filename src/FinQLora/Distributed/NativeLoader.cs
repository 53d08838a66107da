using System.Runtime.InteropServices;

namespace FinQLora.Distributed;

/// <summary>Finds libnccl.so.2: FINQLORA_NCCL, the loader path, or the nvidia-nccl wheel beside a PyTorch libtorch.</summary>
internal static class NativeLoader
{
    private static bool _done;

    public static void EnsureNccl()
    {
        if (_done) return;
        _done = true;
        var candidates = new List<string>();
        if (Runtime.EnvironmentSettings.Current.Nccl is { } env) candidates.Add(env);
        var torchLib = Runtime.NativeBootstrap.LibTorchDir ?? Environment.GetEnvironmentVariable("LD_LIBRARY_PATH")?.Split(':').FirstOrDefault(d => File.Exists(Path.Combine(d, "libtorch.so")));
        if (torchLib is not null)
        {
            // site-packages/torch/lib → site-packages/nvidia/nccl/lib (PyTorch's CUDA wheels)
            var sitePackages = Path.GetFullPath(Path.Combine(torchLib, "..", ".."));
            candidates.Add(Path.Combine(sitePackages, "nvidia", "nccl", "lib", "libnccl.so.2"));
            var nvidia = Path.Combine(sitePackages, "nvidia");
            if (Directory.Exists(nvidia))
                candidates.AddRange(Directory.EnumerateFiles(nvidia, "libnccl.so*", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            candidates.Add(Path.Combine(torchLib, "libnccl.so.2"));
        }
        foreach (var c in candidates)
            // once loaded by path, the loader resolves later dlopen("libnccl.so.2") calls (DllImport) to it by soname
            if (File.Exists(c) && NativeLibrary.TryLoad(c, out _)) return;
    }
}
