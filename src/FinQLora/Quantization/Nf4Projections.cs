using FinQLora.IO;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// A projection's weight as a 4-bit state (for the builder's 4-bit models and for merging): a projection stored by
/// bitsandbytes in 4 bits is read as it is; a dense one is loaded to the target device, quantized there and freed,
/// so only one dense weight exists at a time.
/// </summary>
public static class Nf4Projections
{
    /// <summary>Module <paramref name="path"/>'s weight as a 4-bit state on <paramref name="device"/>.</summary>
    public static Nf4State Load(string path, IWeightSource source, Device device, ScalarType dtype, int blockSize = 64, bool doubleQuant = true)
    {
        if (BnbNf4Format.IsQuantized(path, source.Contains))
        {
            using var scope = NewDisposeScope();
            var state = BnbNf4Format.FromTensors(path, name =>
                !source.Contains(name) ? null
                // the packed codes may be stored as bf16/fp16 (quant_storage): take their raw bytes
                : name == path + ".weight" ? tensor(source.ReadBytes(name), device: device)
                : source.Load(name, device, ScalarType.Float32));
            return state.MoveToOuterDisposeScope();
        }
        using (var scope = NewDisposeScope())
        {
            var dense = source.Load(path + ".weight", device, dtype);                 // [out, in]
            return Nf4.Quantize(dense, blockSize, doubleQuant).MoveToOuterDisposeScope();
        }
    }
}
