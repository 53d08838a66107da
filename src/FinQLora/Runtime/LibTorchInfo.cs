using System.Diagnostics;

namespace FinQLora.Runtime;

/// <summary>Where the loaded libtorch lives and which version it is (read from /proc/self/maps).</summary>
public static class LibTorchInfo
{
    public static string Describe()
    {
        TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
        string? path = null;
        if (File.Exists("/proc/self/maps"))
            path = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length >= 6 && f[5].EndsWith("/libtorch_cpu.so", StringComparison.Ordinal)).Select(f => f[5]).FirstOrDefault();
        if (path is null) return "loaded (location unknown)";
        var dir = Path.GetDirectoryName(path)!;
        string version = "";
        // A PyTorch install keeps its version beside lib/ (torch/version.py); NuGet's libtorch names it in the package folder.
        var versionPy = Path.Combine(Path.GetDirectoryName(dir)!, "version.py");
        if (File.Exists(versionPy))
            version = File.ReadLines(versionPy).FirstOrDefault(l => l.StartsWith("__version__", StringComparison.Ordinal))?.Split('=')[1].Trim().Trim('\'', '"') ?? "";
        else
            version = FileVersionInfo.GetVersionInfo(typeof(TorchSharp.torch).Assembly.Location).ProductVersion ?? "";
        return $"{(version.Length > 0 ? version + " " : "")}({dir})";
    }
}
