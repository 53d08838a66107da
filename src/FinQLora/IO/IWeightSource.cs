using static TorchSharp.torch;

namespace FinQLora.IO;

/// <summary>Where a model's tensors come from: a checkpoint folder, or seeded random weights of a named shape.</summary>
public interface IWeightSource
{
    bool Contains(string name);
    Tensor Load(string name, Device device, ScalarType dtype);
    byte[] ReadBytes(string name);
}

/// <summary>A Hugging Face folder's safetensors weights.</summary>
public sealed class CheckpointWeights(ModelWeights weights) : IWeightSource
{
    public bool Contains(string name) => weights.Contains(name);
    public Tensor Load(string name, Device device, ScalarType dtype)
    {
        var info = weights.Info(name);
        var stored = SafeTensorDTypes.ToScalarType(info.DType);
        // Integer/byte tensors (quantized storage) keep their dtype.
        bool isFloat = stored is ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Float64;
        return weights.Load(name, device, isFloat ? dtype : null);
    }
    public byte[] ReadBytes(string name) => weights.ReadBytes(name);
}
