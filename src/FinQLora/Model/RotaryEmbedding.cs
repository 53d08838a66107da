using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Rotary position embedding with the llama3 frequency scaling, in the half-split form
/// (rotate_half = cat(-x2, x1)), with cos/sin computed in fp32 and cast to the compute dtype,
/// following transformers' LlamaRotaryEmbedding step by step (fp32 torch ops, same order).
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _invFreq;   // [d_h/2] fp32

    public RotaryEmbedding(int headDim, RopeConfig rope, Device device)
    {
        using var scope = NewDisposeScope();
        var inv = 1.0 / pow(rope.Theta, arange(0, headDim, 2, ScalarType.Int64).to(ScalarType.Float32) / headDim);
        if (rope.RopeType == "llama3")
        {
            double low = rope.OriginalMaxPositionEmbeddings / rope.LowFreqFactor;
            double high = rope.OriginalMaxPositionEmbeddings / rope.HighFreqFactor;
            var wavelen = 2 * Math.PI / inv;
            var scaled = where(wavelen > low, inv / rope.Factor, inv);
            var smooth = (rope.OriginalMaxPositionEmbeddings / wavelen - rope.LowFreqFactor) / (rope.HighFreqFactor - rope.LowFreqFactor);
            var smoothed = (1 - smooth) * scaled / rope.Factor + smooth * scaled;
            var medium = (wavelen < high).logical_not().logical_and((wavelen > low).logical_not());
            inv = where(medium, smoothed, scaled);
        }
        _invFreq = inv.to(device).MoveToOuterDisposeScope();
    }

    /// <summary>cos and sin for the given positions: [b, s] int64 → two [b, s, d_h] tensors of <paramref name="dtype"/>.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positionIds, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var freqs = positionIds.to(ScalarType.Float32).unsqueeze(-1) * _invFreq;   // [b, s, d_h/2]
        var emb = cat([freqs, freqs], -1);                                           // [b, s, d_h]
        var cos = emb.cos().to(dtype);
        var sin = emb.sin().to(dtype);
        return (cos.MoveToOuterDisposeScope(), sin.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// x: [b, s, heads, d_h] (the projection's own layout); cos/sin: [b, s, d_h]. Returns [b, s, heads, d_h].
    /// bf16 on CUDA runs one fused kernel; otherwise the tensor ops of <see cref="Apply"/>, broadcast over heads.
    /// </summary>
    public static Tensor ApplyToHeads(Tensor x, Tensor cos, Tensor sin)
    {
        if (Cuda.Fused.Rope(x, cos, sin) is { } fused) return fused;
        using var scope = NewDisposeScope();
        return Rotate(x, cos.unsqueeze(2), sin.unsqueeze(2)).MoveToOuterDisposeScope();
    }

    /// <summary>x: [b, heads, s, d_h]; cos/sin: [b, s, d_h].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        return Rotate(x, cos.unsqueeze(1), sin.unsqueeze(1)).MoveToOuterDisposeScope();   // cos/sin [b, 1, s, d_h]
    }

    /// <summary>x * cos + rotate_half(x) * sin, with cos/sin already shaped to broadcast against x.</summary>
    private static Tensor Rotate(Tensor x, Tensor cos, Tensor sin)
    {
        long half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        var rotated = cat([-x2, x1], -1);
        return x * cos + rotated * sin;
    }

    public void Dispose() => _invFreq.Dispose();
}
