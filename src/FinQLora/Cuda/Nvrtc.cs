using System.Runtime.InteropServices;
using System.Text;

namespace FinQLora.Cuda;

/// <summary>
/// NVRTC (libnvrtc.so), CUDA's run-time compiler: CUDA C source to a cubin for the current GPU
/// (or PTX when this NVRTC cannot target that architecture). The library is looked up in
/// FINQLORA_NVRTC (a file), then by its usual names on the loader path, then under /usr/local/cuda.
/// </summary>
public static unsafe class Nvrtc
{
    public const string PathEnv = "FINQLORA_NVRTC";

    private static readonly Lazy<Api> Loaded = new(Load);

    private sealed class Api
    {
        public delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int> CreateProgram;
        public delegate* unmanaged<IntPtr*, int> DestroyProgram;
        public delegate* unmanaged<IntPtr, int, byte**, int> CompileProgram;
        public delegate* unmanaged<IntPtr, nuint*, int> GetProgramLogSize;
        public delegate* unmanaged<IntPtr, byte*, int> GetProgramLog;
        public delegate* unmanaged<IntPtr, nuint*, int> GetCUBINSize;
        public delegate* unmanaged<IntPtr, byte*, int> GetCUBIN;
        public delegate* unmanaged<IntPtr, nuint*, int> GetPTXSize;
        public delegate* unmanaged<IntPtr, byte*, int> GetPTX;
        public delegate* unmanaged<int, byte*> GetErrorString;
        public string Path = "";
    }

    /// <summary>True where libnvrtc can be loaded; <paramref name="error"/> says why not.</summary>
    public static bool IsAvailable(out string? error)
    {
        try
        {
            _ = Loaded.Value;
            error = null;
            return true;
        }
        catch (FinQLoraException e)
        {
            error = e.Message;
            return false;
        }
    }

    /// <summary>
    /// Compiles <paramref name="source"/> for compute capability <paramref name="major"/>.<paramref name="minor"/>.
    /// Returns a cubin (sm_XY) or, with <paramref name="ptx"/>, NUL-terminated PTX (compute_XY).
    /// Throws with the compiler's log on failure.
    /// </summary>
    public static byte[] Compile(string source, string name, int major, int minor, bool ptx = false, params string[] extraOptions)
    {
        var api = Loaded.Value;
        var options = new List<string> { $"--gpu-architecture={(ptx ? "compute" : "sm")}_{major}{minor}", "--std=c++17" };
        options.AddRange(extraOptions);
        IntPtr prog;
        var src = Encoding.UTF8.GetBytes(source + "\0");
        var nm = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* s = src, n = nm)
            Check(api, api.CreateProgram(&prog, s, n, 0, null, null), "nvrtcCreateProgram");
        try
        {
            var handles = options.Select(o => Marshal.StringToCoTaskMemUTF8(o)).ToArray();
            try
            {
                int rc;
                fixed (IntPtr* o = handles) rc = api.CompileProgram(prog, handles.Length, (byte**)o);
                if (rc != 0)
                    throw new FinQLoraException($"NVRTC could not compile {name} ({string.Join(" ", options)}): {ErrorString(api, rc)}\n{Log(api, prog)}");
            }
            finally
            {
                foreach (var h in handles) Marshal.FreeCoTaskMem(h);
            }
            nuint size;
            if (ptx)
            {
                Check(api, api.GetPTXSize(prog, &size), "nvrtcGetPTXSize");
                var image = new byte[(int)size];
                fixed (byte* p = image) Check(api, api.GetPTX(prog, p), "nvrtcGetPTX");
                return image;
            }
            Check(api, api.GetCUBINSize(prog, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* p = cubin) Check(api, api.GetCUBIN(prog, p), "nvrtcGetCUBIN");
            return cubin;
        }
        finally
        {
            api.DestroyProgram(&prog);
        }
    }

    private static string Log(Api api, IntPtr prog)
    {
        nuint size;
        if (api.GetProgramLogSize(prog, &size) != 0 || size <= 1) return "";
        var log = new byte[(int)size];
        fixed (byte* p = log) api.GetProgramLog(prog, p);
        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private static string ErrorString(Api api, int rc) => Marshal.PtrToStringAnsi((IntPtr)api.GetErrorString(rc)) ?? $"error {rc}";

    private static void Check(Api api, int rc, string what)
    {
        if (rc != 0) throw new FinQLoraException($"NVRTC call {what} failed: {ErrorString(api, rc)}");
    }

    private static IEnumerable<string> Candidates()
    {
        if (Runtime.EnvironmentSettings.Current.Nvrtc is { } env) yield return env;
        string[] names = ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"];
        foreach (var n in names) yield return n;
        foreach (var dir in new[] { "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib" })
            if (Directory.Exists(dir))
                foreach (var f in Directory.GetFiles(dir, "libnvrtc.so*").Where(f => !f.Contains("builtins")).Order())
                    yield return f;
    }

    private static Api Load()
    {
        foreach (var candidate in Candidates())
        {
            if (!NativeLibrary.TryLoad(candidate, out var lib)) continue;
            IntPtr Get(string symbol) => NativeLibrary.GetExport(lib, symbol);
            return new Api
            {
                CreateProgram = (delegate* unmanaged<IntPtr*, byte*, byte*, int, byte**, byte**, int>)Get("nvrtcCreateProgram"),
                DestroyProgram = (delegate* unmanaged<IntPtr*, int>)Get("nvrtcDestroyProgram"),
                CompileProgram = (delegate* unmanaged<IntPtr, int, byte**, int>)Get("nvrtcCompileProgram"),
                GetProgramLogSize = (delegate* unmanaged<IntPtr, nuint*, int>)Get("nvrtcGetProgramLogSize"),
                GetProgramLog = (delegate* unmanaged<IntPtr, byte*, int>)Get("nvrtcGetProgramLog"),
                GetCUBINSize = (delegate* unmanaged<IntPtr, nuint*, int>)Get("nvrtcGetCUBINSize"),
                GetCUBIN = (delegate* unmanaged<IntPtr, byte*, int>)Get("nvrtcGetCUBIN"),
                GetPTXSize = (delegate* unmanaged<IntPtr, nuint*, int>)Get("nvrtcGetPTXSize"),
                GetPTX = (delegate* unmanaged<IntPtr, byte*, int>)Get("nvrtcGetPTX"),
                GetErrorString = (delegate* unmanaged<int, byte*>)Get("nvrtcGetErrorString"),
                Path = candidate,
            };
        }
        throw new FinQLoraException($"libnvrtc (CUDA's run-time compiler) was not found: install the CUDA toolkit's NVRTC or set {PathEnv} to the path of libnvrtc.so");
    }

    /// <summary>The library file or name that was loaded.</summary>
    public static string LoadedPath => Loaded.Value.Path;
}
