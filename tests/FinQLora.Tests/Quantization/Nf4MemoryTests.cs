using FinQLora.Benchmarks;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

public class Nf4MemoryTests
{
    [Fact]
    public void The_estimate_for_one_weight_equals_what_a_quantized_state_holds()
    {
        using var scope = NewDisposeScope();
        foreach (var (shape, dq) in new[] { (new long[] { 300, 77 }, true), (new long[] { 64, 64 }, false), (new long[] { 1024, 129 }, true) })
        {
            using var s = Nf4.Quantize(zeros(shape), 64, dq);
            var (packed, state) = Nf4Memory.WeightBytes(shape[0] * shape[1], 64, dq);
            Assert.Equal(s.ResidentBytes, packed + state);
        }
    }

    [Fact]
    public void The_8B_shape_fits_in_six_GiB()
    {
        // by hand: projections per layer 4096·4096·2 + 1024·4096·2 + 14336·4096·3 = 218,103,808;
        // × 32 = 6,979,321,856 values -> 3,489,660,928 packed bytes. Statistics per weight: one uint8 per
        // block of 64, 4 bytes per 256 blocks, 1024 for the map: q/o 262144+4096+1024, k/v 65536+1024+1024,
        // gate/up/down 917504+14336+1024 -> 3,468,288 per layer, 110,985,216 in all.
        // Dense: embeddings + lm_head 2·128256·4096 and 65 norms of 4096, in bf16.
        var e = Nf4Memory.Estimate(LlamaConfig.Llama31_8B);
        Assert.Equal(6_979_321_856L, e.QuantizedParameters);
        Assert.Equal(3_489_660_928L, e.PackedBytes);
        Assert.Equal(110_985_216L, e.QuantStateBytes);
        Assert.Equal((2L * 128256 * 4096 + 4096 * 65) * 2, e.DenseBytes);
        Assert.True(e.TotalGiB < 6.0, $"{e.TotalGiB:F2} GiB");
        Assert.True(e.TotalGiB > 5.0);
    }
}
