using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

public class Nf4RoundTripTests
{
    [Fact]
    public void Random_normal_weights_come_back_within_NF4s_known_error()
    {
        // NF4 with blocks of 64 on N(0, σ²): the mean absolute error is about 0.07σ-0.08σ (the
        // code's bins are ~0.1-0.2 of absmax ≈ 2.4σ wide near zero). Bounds leave room either side.
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        var w = normal(0, 0.02, [256, 512]);
        using var s = Nf4.Quantize(w, 64, doubleQuant: true);
        var back = Nf4.Dequantize(s, ScalarType.Float32);
        var err = (back - w).abs();
        double relMean = err.mean().item<float>() / 0.02;
        Assert.InRange(relMean, 0.05, 0.10);
        double relRms = Math.Sqrt(err.pow(2).mean().item<float>()) / 0.02;
        Assert.InRange(relRms, 0.06, 0.13);
        // |a·t - c·a'| <= |a·t - c·a| + |c|·|a - a'|: half of the widest gap between codes (-1 to
        // -0.696: 0.152) of the absmax a, plus the double-quantization error of a
        var absmax = w.view(-1, 64).abs().amax([1], keepdim: true);
        var absmaxError = (Nf4.DequantizeAbsmax(s).view(-1, 1) - absmax).abs();
        var bound = (absmax * (Nf4.Code[1] - Nf4.Code[0]) / 2 + absmaxError) * 1.0001f;
        var worst = (err.view(-1, 64) / bound).max().item<float>();
        Assert.True(worst <= 1, $"worst error / bound = {worst}");
        // the absmax of each block is reproduced almost exactly (double quantization error only)
        var relAbsmax = ((Nf4.DequantizeAbsmax(s) - absmax.view(-1)).abs() / absmax.view(-1)).max().item<float>();
        Assert.True(relAbsmax < 0.01, $"absmax relative error {relAbsmax}");
    }

    [Fact]
    public void Without_double_quantization_the_absmax_is_exact_and_the_error_smaller_or_equal()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(8);
        var w = normal(0, 1, [64, 128]);
        using var plain = Nf4.Quantize(w, 128, doubleQuant: false);
        Assert.Equal(ScalarType.Float32, plain.Absmax.dtype);
        Assert.True(plain.Absmax.equal(w.view(-1, 128).abs().amax([1])).all().item<bool>());
        var back = Nf4.Dequantize(plain, ScalarType.Float32);
        Assert.InRange((back - w).abs().mean().item<float>(), 0.03, 0.12);
    }

    [Fact]
    public void Every_code_dequantizes_to_its_table_value_times_absmax()
    {
        // a row that is exactly the code table: each value must map to itself
        using var scope = NewDisposeScope();
        var w = tensor(Nf4.Code).view(1, 16) * 3f;
        using var s = Nf4.Quantize(w, 32, doubleQuant: false);
        var back = Nf4.Dequantize(s, ScalarType.Float32);
        Assert.True(back.equal(w).all().item<bool>());
        Assert.Equal(new byte[] { 0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF }, s.Packed.bytes.ToArray());
    }

    [Fact]
    public void Fp4_round_trips_its_own_code_values()
    {
        using var scope = NewDisposeScope();
        var w = tensor(Nf4.Fp4Code).view(2, 8) * 2f;
        using var s = Nf4.Quantize(w, 32, doubleQuant: false, Bnb4BitType.Fp4);
        // code 8 is -0: it decodes to -0 and +0 encodes as code 0
        Assert.Equal(new byte[] { 0x01, 0x23, 0x45, 0x67, 0x09, 0xAB, 0xCD, 0xEF }, s.Packed.bytes.ToArray());
        Assert.True(Nf4.Dequantize(s, ScalarType.Float32).equal(w).all().item<bool>());
    }

    [Theory]
    [InlineData(16)]
    [InlineData(48)]
    [InlineData(8192)]
    public void Unsupported_block_sizes_are_refused_with_the_supported_list(int bs)
    {
        using var w = zeros(4, 64);
        var e = Assert.Throws<FinQLoraException>(() => Nf4.Quantize(w, bs));
        Assert.Contains($"block size {bs}", e.Message);
        Assert.Contains("32, 64, 128", e.Message);
    }

    [Fact]
    public void Integer_weights_are_refused()
    {
        using var w = zeros(4, 64, ScalarType.Int32);
        Assert.Throws<FinQLoraException>(() => Nf4.Quantize(w));
    }

    [Fact]
    public void Dequantizing_to_bf16_rounds_the_fp32_result_to_nearest_even()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var w = normal(0, 0.02, [32, 96]);
        using var s = Nf4.Quantize(w);
        var f32 = Nf4.Dequantize(s, ScalarType.Float32);
        var bf16 = Nf4.Dequantize(s, ScalarType.BFloat16);
        Assert.True(bf16.equal(f32.to(ScalarType.BFloat16)).all().item<bool>());
    }
}
