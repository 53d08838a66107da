using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>Parses --device and --dtype values, with clear errors.</summary>
public static class DeviceSpec
{
    public static Device Parse(string spec)
    {
        spec = spec.Trim().ToLowerInvariant();
        if (spec == "cpu") return CPU;
        if (spec == "cuda" || spec.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new FinQLoraException($"--device {spec}: no CUDA device is available to libtorch (no NVIDIA GPU, or a CPU-only libtorch: see README, 'Running on a GPU')", exitCode: 3);
            int index = spec == "cuda" ? 0 : int.TryParse(spec[5..], out var i) ? i : throw new FinQLoraException($"--device {spec}: expected cuda:N", exitCode: 2);
            if (index < 0 || index >= cuda.device_count())
                throw new FinQLoraException($"--device {spec}: only {cuda.device_count()} CUDA device(s) present", exitCode: 3);
            return new Device(DeviceType.CUDA, index);
        }
        throw new FinQLoraException($"--device {spec}: expected cpu, cuda or cuda:N", exitCode: 2);
    }

    public static ScalarType ParseDType(string spec) => spec.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" => ScalarType.Float32,
        "bfloat16" or "bf16" => ScalarType.BFloat16,
        "float16" or "fp16" or "f16" => ScalarType.Float16,
        _ => throw new FinQLoraException($"--dtype {spec}: expected float32, bfloat16 or float16", exitCode: 2),
    };
}
