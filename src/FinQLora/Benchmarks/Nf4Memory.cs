using FinQLora.Model;
using FinQLora.Quantization;

namespace FinQLora.Benchmarks;

/// <summary>Resident bytes of a model whose projections are 4-bit and the rest 16-bit (or the compute dtype).</summary>
public sealed record Nf4MemoryEstimate(
    long QuantizedParameters,  // elements of the q/k/v/o/gate/up/down weights
    long PackedBytes,          // their 4-bit codes
    long QuantStateBytes,      // absmax (uint8 or fp32) + nested absmax + nested maps
    long DenseBytes,           // embeddings, lm_head and norms in the compute dtype
    long TotalBytes)
{
    public double TotalGiB => TotalBytes / (double)(1L << 30);
}

public static class Nf4Memory
{
    /// <summary>One weight's 4-bit footprint: packed codes plus quantization statistics, as <see cref="Nf4State.ResidentBytes"/> counts them.</summary>
    public static (long Packed, long State) WeightBytes(long elements, int blockSize = 64, bool doubleQuant = true)
    {
        long blocks = (elements + blockSize - 1) / blockSize;
        long packed = (elements + 1) / 2;
        if (!doubleQuant) return (packed, blocks * 4);
        long nested = (blocks + Nf4.NestedBlockSize - 1) / Nf4.NestedBlockSize;
        return (packed, blocks + nested * 4 + 256 * 4);
    }

    /// <summary>The resident size of <paramref name="c"/> with every projection in 4 bits and the rest in <paramref name="denseElementBytes"/>-byte elements (2 for bf16).</summary>
    public static Nf4MemoryEstimate Estimate(LlamaConfig c, int blockSize = 64, bool doubleQuant = true, int denseElementBytes = 2)
    {
        long h = c.HiddenSize, f = c.IntermediateSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        long[] perLayer = [q * h, kv * h, kv * h, h * q, f * h, f * h, h * f];   // q, k, v, o, gate, up, down
        long elements = 0, packed = 0, state = 0;
        foreach (var e in perLayer)
        {
            var (p, s) = WeightBytes(e, blockSize, doubleQuant);
            elements += e * c.NumHiddenLayers;
            packed += p * c.NumHiddenLayers;
            state += s * c.NumHiddenLayers;
        }
        long denseElements = c.VocabSize * h * (c.TieWordEmbeddings ? 1 : 2) + h * (2L * c.NumHiddenLayers + 1);
        long dense = denseElements * denseElementBytes;
        return new Nf4MemoryEstimate(elements, packed, state, dense, packed + state + dense);
    }
}
