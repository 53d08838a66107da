using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>Parses --device and --dtype values, with clear errors.</summary>
public static class DeviceSpec
{
    /// <summary>
    /// The device <paramref name="spec"/> names: cpu, cuda or cuda:N. <paramref name="source"/> says where the value
    /// came from for the messages: "--device" (the default) or e.g. "model.device in configs/stage1.yaml".
    /// A misspelt value is exit code 2; a GPU that is not there is exit code 3.
    /// </summary>
    public static Device Parse(string spec, string source = "--device")
    {
        if (SyntaxError(spec, source) is { } error) throw new FinQLoraException(error, exitCode: 2);
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "cpu") return CPU;
        if (!cuda.is_available())
            throw new FinQLoraException($"{source} {spec}: no CUDA device is available to libtorch (no NVIDIA GPU, or a CPU-only libtorch: see README, 'Running on a GPU')", exitCode: 3);
        int index = spec == "cuda" ? 0 : int.Parse(spec[5..], System.Globalization.CultureInfo.InvariantCulture);
        if (index >= cuda.device_count())
            throw new FinQLoraException($"{source} {spec}: only {cuda.device_count()} CUDA device(s) present", exitCode: 3);
        return new Device(DeviceType.CUDA, index);
    }

    /// <summary>Null when <paramref name="spec"/> is cpu, cuda or cuda:N (N a whole number >= 0); else the message.</summary>
    public static string? SyntaxError(string spec, string source = "--device")
    {
        var s = spec.Trim().ToLowerInvariant();
        if (s is "cpu" or "cuda") return null;
        if (s.StartsWith("cuda:", StringComparison.Ordinal) && s.Length > 5 && s[5..].All(char.IsAsciiDigit) && s.Length <= 12) return null;
        return $"{source} {spec}: expected cpu, cuda or cuda:N (N = the GPU's index, 0, 1, ...)";
    }

    public static ScalarType ParseDType(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new FinQLoraException($"--dtype {spec}: expected float32, bfloat16 or float16", exitCode: 2),
    };
}
