using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>The two 4-bit codes bitsandbytes stores ("quant_type" in its quant state).</summary>
public enum Bnb4BitType { Nf4, Fp4 }

/// <summary>
/// Double quantization of the 4-bit absmax: (absmax - Offset) quantized blockwise to 8 bits with
/// the signed dynamic map <see cref="Code"/>; <see cref="Absmax"/> is the fp32 absmax of each block
/// of <see cref="BlockSize"/> (always 256 in bitsandbytes). Dequantized: Code[q] * Absmax[block] + Offset.
/// </summary>
public sealed record Nf4NestedState(
    Tensor Absmax,   // float32 [ceil(blocks / BlockSize)]
    Tensor Code,     // float32 [256]
    float Offset,
    int BlockSize = 256) : IDisposable
{
    public void Dispose()
    {
        Absmax.Dispose();
        Code.Dispose();
    }
}

/// <summary>
/// A 4-bit blockwise-quantized tensor, as bitsandbytes' quantize_4bit leaves it: the flattened
/// (row-major) tensor in blocks of <see cref="BlockSize"/>, two codes per byte with the even
/// element in the high nibble, and one absmax per block (fp32, or uint8 with <see cref="Nested"/>).
/// Owns its tensors (Dispose frees them).
/// </summary>
public sealed record Nf4State(
    Tensor Packed,          // uint8 [(n + 1) / 2]
    Tensor Absmax,          // float32 [blocks], or uint8 [blocks] when Nested is set
    int BlockSize,
    long[] Shape,           // the original tensor's shape, e.g. [out, in]
    ScalarType DType,       // the original tensor's dtype (bf16, fp16, fp32)
    Nf4NestedState? Nested = null,
    Bnb4BitType QuantType = Bnb4BitType.Nf4) : IDisposable
{
    public long NumElements => Shape.Aggregate(1L, (a, b) => a * b);
    public long NumBlocks => (NumElements + BlockSize - 1) / BlockSize;
    public Device Device => Packed.device;

    /// <summary>Bytes this state holds in memory: packed codes, absmax and the nested statistics.</summary>
    public long ResidentBytes =>
        Bytes(Packed) + Bytes(Absmax) + (Nested is null ? 0 : Bytes(Nested.Absmax) + Bytes(Nested.Code));

    private static long Bytes(Tensor t) => t.numel() * t.element_size();

    /// <summary>A copy on <paramref name="device"/> (the offset and sizes are plain values).</summary>
    public Nf4State To(Device device) => this with
    {
        Packed = Packed.to(device),
        Absmax = Absmax.to(device),
        Nested = Nested is null ? null : Nested with { Absmax = Nested.Absmax.to(device), Code = Nested.Code.to(device) },
    };

    /// <summary>Moves every tensor out of the current dispose scope (for states built inside one).</summary>
    public Nf4State MoveToOuterDisposeScope()
    {
        Packed.MoveToOuterDisposeScope();
        Absmax.MoveToOuterDisposeScope();
        Nested?.Absmax.MoveToOuterDisposeScope();
        Nested?.Code.MoveToOuterDisposeScope();
        return this;
    }

    public void Dispose()
    {
        Packed.Dispose();
        Absmax.Dispose();
        Nested?.Dispose();
    }
}
