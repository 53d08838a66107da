using System.Security.Cryptography;
using System.Text.Json.Nodes;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

/// <summary>
/// Golden vectors: small matrices quantized by hand below, and larger ones by
/// tests/fixtures/nf4/make_golden.py, a plain-Python re-statement of bitsandbytes' CUDA kernels
/// (no shared code with the C# implementation), and the same matrices quantized by bitsandbytes
/// itself on an H200 (bnb_golden.json, written by check_bnb.py --write; bitsandbytes 0.50.2.dev0 built
/// from source): the CPU path must reproduce both bit for bit.
/// </summary>
public class Nf4GoldenTests
{
    internal static JsonObject Golden { get; } = Load("golden.json");
    private static JsonObject Bitsandbytes { get; } = Load("bnb_golden.json");

    private static JsonObject Load(string file) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "fixtures", "nf4", file)))!.AsObject();

    /// <summary>The inputs make_golden.py draws: a 64-bit LCG, each block's peak set to a multiple of 1/1024.</summary>
    internal static float[] LcgValues(long n, int bs, ulong seed)
    {
        var v = new float[n];
        ulong s = seed;
        for (long i = 0; i < n; i++)
        {
            s = unchecked(s * 6364136223846793005UL + 1442695040888963407UL);
            v[i] = (float)(((long)((s >> 33) % 65536) - 32768) / 1048576.0);
        }
        for (long b = 0; b < (n + bs - 1) / bs; b++)
        {
            long pos = b * bs + (b * 7) % bs;
            if (pos < n) v[pos] = (float)((40 + b % 23) / 1024.0 * (b % 2 == 1 ? -1 : 1));
        }
        return v;
    }

    private static byte[] Bytes(Tensor t) => t.cpu().contiguous().bytes.ToArray();
    private static string Sha(byte[] b) => Convert.ToHexStringLower(SHA256.HashData(b));

    [Fact]
    public void An_eight_value_row_quantizes_to_the_hand_worked_codes()
    {
        // absmax 2 -> scaled 0.5, -0.25, 0.125, 0, -1, 0.05, 0.35, -0.025
        // -> codes 12, 4, 9, 7, 0, 8, 11, 7 (nearest NF4 value by midpoint)
        using var w = tensor(new float[] { 1.0f, -0.5f, 0.25f, 0f, -2f, 0.1f, 0.7f, -0.05f }).view(1, 8);
        using var s = Nf4.Quantize(w, blockSize: 32, doubleQuant: false);
        Assert.Equal(new byte[] { 0xC4, 0x97, 0x08, 0xB7 }, Bytes(s.Packed));
        Assert.Equal(new[] { 2f }, s.Absmax.data<float>().ToArray());
        Assert.Equal(new long[] { 1, 8 }, s.Shape);
        using var back = Nf4.Dequantize(s, ScalarType.Float32);
        var expected = new[] { 12, 4, 9, 7, 0, 8, 11, 7 }.Select(c => Nf4.Code[c] * 2f).ToArray();
        Assert.Equal(expected, back.data<float>().ToArray());
    }

    [Fact]
    public void Double_quantization_of_a_single_block_stores_the_absmax_as_the_offset()
    {
        // one block: offset = mean = 2, residual 0 -> nested absmax 0, code index 0 (0 * inf = NaN
        // takes no branch of the search), and 0 * code + 2 gives the absmax back exactly
        using var w = tensor(new float[] { 1.0f, -0.5f, 0.25f, 0f, -2f, 0.1f, 0.7f, -0.05f }).view(1, 8);
        using var s = Nf4.Quantize(w, blockSize: 64, doubleQuant: true);
        Assert.NotNull(s.Nested);
        Assert.Equal(2f, s.Nested!.Offset);
        Assert.Equal(new byte[] { 0 }, Bytes(s.Absmax));
        Assert.Equal(new[] { 0f }, s.Nested.Absmax.data<float>().ToArray());
        using var absmax = Nf4.DequantizeAbsmax(s);
        Assert.Equal(new[] { 2f }, absmax.data<float>().ToArray());
    }

    [Fact]
    public void An_all_zero_block_gives_code_zero_and_dequantizes_to_zero_without_NaN()
    {
        // bitsandbytes: 1/0 = inf, 0*inf = NaN, every "x > t" is false -> code 0b0000; -1 * 0 = -0
        var values = new float[96];
        for (int i = 64; i < 96; i++) values[i] = (i - 80) / 16f;
        using var w = tensor(values).view(3, 32);
        using var s = Nf4.Quantize(w, blockSize: 64, doubleQuant: false);
        var packed = Bytes(s.Packed);
        Assert.All(packed.Take(32), b => Assert.Equal(0, b));
        Assert.Equal(new[] { 0f, 1f }, s.Absmax.data<float>().ToArray());
        using var back = Nf4.Dequantize(s, ScalarType.Float32);
        Assert.False(back.isnan().any().item<bool>());
        Assert.All(back.data<float>().ToArray().Take(64), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void An_odd_count_packs_the_zero_past_the_end_into_the_last_low_nibble()
    {
        // 5 values in one (partial) block of 64: absmax 1; the kernel loads a 0 for element 5 -> code 7
        using var w = tensor(new float[] { 1f, -1f, 0.5f, 0.25f, -0.3f });
        using var s = Nf4.Quantize(w, blockSize: 64, doubleQuant: false);
        // 1 -> 15, -1 -> 0, 0.5 -> 12, 0.25 -> 10, -0.3 -> 4 (between -0.3397 and -0.2346), pad 0 -> 7
        Assert.Equal(new byte[] { 0xF0, 0xCA, 0x47 }, Bytes(s.Packed));
        using var back = Nf4.Dequantize(s, ScalarType.Float32);
        Assert.Equal(new long[] { 5 }, back.shape);
        Assert.Equal(Nf4.Code[4], back[4].item<float>());
    }

    [Fact]
    public void The_dynamic_map_matches_create_dynamic_map_bit_for_bit()
    {
        var map = DynamicMap.Signed;
        Assert.Equal(256, map.Length);
        foreach (var golden in new[] { Golden, Bitsandbytes })
            Assert.Equal(golden["dynamic_map_bits"]!.AsArray().Select(x => x!.GetValue<uint>()).ToArray(), map.Select(BitConverter.SingleToUInt32Bits).ToArray());
        Assert.Equal(1f, map[255]);
        Assert.Equal(0f, map[127]);   // 127 negative values, 0, then 128 positive (1.0 included)
    }

    [Fact]
    public void The_midpoints_are_the_float32_midpoints_of_the_code_table()
    {
        double[] code = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
            -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634,
            0.33791524171829224, 0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0];
        // bitsandbytes writes them as 16-17 digit float literals; for 0|1 the double midpoint sits
        // almost exactly between two floats and the literal rounds the other way, so: within one ulp.
        for (int i = 0; i < 15; i++)
        {
            double m = (code[i] + code[i + 1]) / 2;
            Assert.True(Math.Abs(Nf4.Midpoints[i] - m) <= Math.BitIncrement(Math.Abs(m)) - Math.Abs(m) + 6e-8, $"midpoint {i}");
            Assert.True(Nf4.Midpoints[i] > code[i] && Nf4.Midpoints[i] < code[i + 1]);
        }
        Assert.Equal(float.Parse("-0.8480964004993439", System.Globalization.CultureInfo.InvariantCulture), Nf4.Midpoints[0]);
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var file in new[] { "golden.json", "bnb_golden.json" })
            foreach (var c in (file == "golden.json" ? Golden : Bitsandbytes)["cases"]!.AsArray())
                data.Add(file, c!["name"]!.GetValue<string>());
        return data;
    }

    [Fact]
    public void Both_golden_files_hold_the_same_cases_and_bitsandbytes_made_the_second()
    {
        Assert.StartsWith("bitsandbytes ", Bitsandbytes["made_by"]!.GetValue<string>());
        Assert.Equal(Golden["cases"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()),
            Bitsandbytes["cases"]!.AsArray().Select(c => c!["name"]!.GetValue<string>()));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Golden_matrices_quantize_and_dequantize_bit_for_bit(string file, string name)
    {
        var c = (file == "golden.json" ? Golden : Bitsandbytes)["cases"]!.AsArray().Single(x => x!["name"]!.GetValue<string>() == name)!;
        var shape = c["shape"]!.AsArray().Select(x => x!.GetValue<long>()).ToArray();
        int bs = c["blocksize"]!.GetValue<int>();
        bool dq = c["double_quant"]!.GetValue<bool>();
        var type = c["quant_type"]!.GetValue<string>() == "nf4" ? Bnb4BitType.Nf4 : Bnb4BitType.Fp4;
        using var scope = NewDisposeScope();
        var w = tensor(LcgValues(shape[0] * shape[1], bs, c["seed"]!.GetValue<ulong>())).view(shape);
        using var s = Nf4.Quantize(w, bs, dq, type);

        var packed = Bytes(s.Packed);
        Assert.Equal(c["packed_head"]!.GetValue<string>(), Convert.ToHexStringLower(packed[..24]));
        Assert.Equal(c["packed_tail"]!.GetValue<string>(), Convert.ToHexStringLower(packed[^8..]));
        Assert.Equal(c["packed_sha256"]!.GetValue<string>(), Sha(packed));
        if (dq)
        {
            Assert.Equal(c["offset_bits"]!.GetValue<uint>(), BitConverter.SingleToUInt32Bits(s.Nested!.Offset));
            Assert.Equal(c["qabsmax"]!.GetValue<string>(), Convert.ToHexStringLower(Bytes(s.Absmax)));
            Assert.Equal(c["nested_absmax_bits"]!.AsArray().Select(x => x!.GetValue<uint>()),
                s.Nested.Absmax.data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits));
        }
        else
        {
            Assert.Equal(c["absmax_bits"]!.AsArray().Select(x => x!.GetValue<uint>()),
                s.Absmax.data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits));
        }
        var f32 = Nf4.Dequantize(s, ScalarType.Float32);
        Assert.Equal(shape, f32.shape);
        Assert.Equal(c["dequant_f32_head_bits"]!.AsArray().Select(x => x!.GetValue<uint>()),
            f32.reshape(-1)[..8].data<float>().ToArray().Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(c["dequant_f32_sha256"]!.GetValue<string>(), Sha(Bytes(f32)));
        Assert.Equal(c["dequant_bf16_sha256"]!.GetValue<string>(), Sha(Bytes(Nf4.Dequantize(s, ScalarType.BFloat16))));
    }

    [Fact]
    public void Bf16_and_fp32_copies_of_the_same_weight_quantize_identically()
    {
        using var scope = NewDisposeScope();
        var w = tensor(LcgValues(4096, 64, 9)).view(32, 128).to(ScalarType.BFloat16);
        using var a = Nf4.Quantize(w);
        using var b = Nf4.Quantize(w.to(ScalarType.Float32));
        Assert.Equal(Bytes(a.Packed), Bytes(b.Packed));
        Assert.Equal(Bytes(a.Absmax), Bytes(b.Absmax));
        Assert.Equal(ScalarType.BFloat16, a.DType);
    }
}
