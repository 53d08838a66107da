using FinQLora.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// 4-bit blockwise quantization byte-for-byte as bitsandbytes does it (QLoRA's NF4, and FP4),
/// with double quantization of the absmax. Written with tensor ops, so it runs on any device;
/// on CUDA, <see cref="Dequantize"/> uses the fused kernel (<see cref="Nf4Kernel"/>) instead.
/// Every floating-point step is the one bitsandbytes' CUDA kernels do, in float32:
/// x * (1 / absmax) compared against the float32 code midpoints (strictly greater), so a block of
/// zeros (1/0 = inf, 0 * inf = NaN) gives code 0 and dequantizes to 0, as in bitsandbytes.
/// </summary>
public static class Nf4
{
    /// <summary>Block sizes bitsandbytes' quantize_4bit accepts.</summary>
    public static readonly int[] SupportedBlockSizes = [32, 64, 128, 256, 512, 1024, 2048, 4096];

    /// <summary>The block size bitsandbytes uses for the nested (double) quantization of the absmax.</summary>
    public const int NestedBlockSize = 256;

    /// <summary>NF4 code table (index = 4-bit code): quantiles of N(0, 1) scaled to [-1, 1].</summary>
    public static readonly float[] Code =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
        -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
        0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>The 15 decision points between neighbouring NF4 codes (their midpoints, in float32).</summary>
    internal static readonly float[] Midpoints =
    [
        -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
        -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
        0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
        0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f,
    ];

    /// <summary>
    /// FP4 (1 sign, 2 exponent, 1 mantissa bit) as bitsandbytes decodes it: magnitude by the low 3
    /// bits (0, 0.0625, 8, 12, 4, 6, 2, 3, divided by 12), negative when bit 3 is set.
    /// </summary>
    public static readonly float[] Fp4Code = BuildFp4Code();

    /// <summary>The FP4 decision points on |x| and the code of each magnitude rank.</summary>
    internal static readonly float[] Fp4Midpoints = [0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f];
    internal static readonly long[] Fp4CodeOfRank = [0, 1, 6, 7, 4, 5, 2, 3];

    private static float[] BuildFp4Code()
    {
        float[] magnitude = [0.0f, 0.005208333333f, 0.66666667f, 1.0f, 0.33333333f, 0.5f, 0.16666667f, 0.25f];
        var code = new float[16];
        for (int i = 0; i < 16; i++) code[i] = magnitude[i & 7] * (i >= 8 ? -1f : 1f);
        return code;
    }

    /// <summary>The 16 values of a 4-bit type (what bitsandbytes saves as quant_map).</summary>
    public static float[] CodeOf(Bnb4BitType type) => type == Bnb4BitType.Nf4 ? (float[])Code.Clone() : QuantMapFp4();

    // get_4bit_type("fp4"): the raw values divided by their largest magnitude (12) in float32
    private static float[] QuantMapFp4()
    {
        float[] raw = [0, 0.0625f, 8, 12, 4, 6, 2, 3, -0f, -0.0625f, -8, -12, -4, -6, -2, -3];
        return raw.Select(v => v / 12f).ToArray();
    }

    public static void CheckBlockSize(int blockSize, string what)
    {
        if (!SupportedBlockSizes.Contains(blockSize))
            throw new FinQLoraException($"{what}: 4-bit block size {blockSize} is not supported (bitsandbytes supports {string.Join(", ", SupportedBlockSizes)})");
    }

    /// <summary>
    /// Quantizes <paramref name="weight"/> (fp32, fp16 or bf16, any shape, any device) to 4 bits in
    /// blocks of <paramref name="blockSize"/>, with the absmax double-quantized when
    /// <paramref name="doubleQuant"/>. The state lives on the weight's device.
    /// </summary>
    public static Nf4State Quantize(Tensor weight, int blockSize = 64, bool doubleQuant = true, Bnb4BitType quantType = Bnb4BitType.Nf4) =>
        Quantize(weight, blockSize, doubleQuant, quantType, useKernel: true);

    /// <summary>As above; <paramref name="useKernel"/> = false forces the tensor-ops path on CUDA (tests compare the two).</summary>
    public static Nf4State Quantize(Tensor weight, int blockSize, bool doubleQuant, Bnb4BitType quantType, bool useKernel)
    {
        CheckBlockSize(blockSize, "quantize");
        if (weight.dtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new FinQLoraException($"quantize: 4-bit quantization takes float32, float16 or bfloat16 weights, got {weight.dtype}");
        long n = weight.numel();
        if (n == 0) throw new FinQLoraException("quantize: the weight is empty");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        Tensor packed, absmax;
        // On CUDA: bitsandbytes' own arithmetic (fast-math reciprocal), see Nf4QuantizeKernel
        if (!(useKernel && Nf4QuantizeKernel.TryQuantize4(weight, blockSize, quantType, out packed, out absmax)))
            (packed, absmax) = QuantizeWithOps(weight, blockSize, quantType);

        Nf4State state;
        if (doubleQuant)
        {
            var offset = Mean(absmax);
            var map = tensor(DynamicMap.Signed, device: absmax.device);
            Tensor nested, absmax2;
            if (useKernel && weight.device.type == DeviceType.CUDA && Nf4QuantizeKernel.Failure is null && Nf4Kernel.Enabled)
                (nested, absmax2) = Nf4QuantizeKernel.Quantize8(absmax - offset, NestedBlockSize, map);
            else
                nested = QuantizeBlockwise8(absmax - offset, NestedBlockSize, out absmax2, out map);
            state = new Nf4State(packed, nested, blockSize, weight.shape, weight.dtype,
                new Nf4NestedState(absmax2, map, offset.item<float>(), NestedBlockSize), quantType);
        }
        else
        {
            state = new Nf4State(packed, absmax, blockSize, weight.shape, weight.dtype, null, quantType);
        }
        return state.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The double quantization's offset, bitsandbytes' <c>absmax.mean()</c> as torch computes it on
    /// CUDA, where bitsandbytes quantizes: the fp32 sum times fp32 1/n. torch on the CPU divides
    /// instead, which differs in the last bit for some n, so the CPU takes CUDA's formula too.
    /// </summary>
    private static Tensor Mean(Tensor absmax) =>
        absmax.device.type == DeviceType.CUDA ? absmax.mean() : absmax.sum() * (1f / absmax.NumberOfElements);

    // uint8 codes [(n + 1) / 2] and fp32 absmax [blocks] with tensor ops (IEEE 1/absmax)
    private static (Tensor Packed, Tensor Absmax) QuantizeWithOps(Tensor weight, int blockSize, Bnb4BitType quantType)
    {
        long n = weight.numel();
        long blocks = (n + blockSize - 1) / blockSize;
        var flat = weight.detach().reshape(-1).to(ScalarType.Float32);                         // [n]
        var padded = nn.functional.pad(flat, [0, blocks * blockSize - n]).view(blocks, blockSize);  // [blocks, bs]
        var absmax = padded.abs().amax([1]);                                                   // [blocks]
        var scaled = padded * (ones_like(absmax) / absmax).unsqueeze(1);                       // [blocks, bs]
        // An odd count packs a final zero (scaled like the rest of its block) into the low nibble.
        long even = n + (n & 1);
        var codes = CodesOf(scaled.view(-1).narrow(0, 0, even), quantType).view(-1, 2);        // [even / 2, 2]
        var packed = (codes[.., 0] * 16 + codes[.., 1]).to(ScalarType.Byte);                   // [(n + 1) / 2]
        return (packed, absmax);
    }

    // int64 codes for values already divided by their block's absmax
    private static Tensor CodesOf(Tensor x, Bnb4BitType type)
    {
        var dev = x.device;
        if (type == Bnb4BitType.Nf4)
        {
            // bucketize (right=false) counts the midpoints strictly below x: bitsandbytes' "x > midpoint" tree
            var idx = bucketize(x, tensor(Midpoints, device: dev), true);
            return where(isnan(x), 0L, idx);
        }
        var rank = bucketize(x.abs(), tensor(Fp4Midpoints, device: dev), true).to(ScalarType.Int64);
        var magnitude = tensor(Fp4CodeOfRank, device: dev)[rank];
        var code = magnitude + where(x < 0f, 8L, 0L);
        return where(isnan(x), 0L, code);
    }

    /// <summary>
    /// bitsandbytes' quantize_blockwise (8-bit, non-stochastic) with the signed dynamic map:
    /// uint8 codes [m], and the fp32 absmax of each block in <paramref name="absmax"/>.
    /// </summary>
    public static Tensor QuantizeBlockwise8(Tensor x, int blockSize, out Tensor absmax, out Tensor map)
    {
        using var scope = NewDisposeScope();
        long m = x.numel();
        long blocks = (m + blockSize - 1) / blockSize;
        var padded = nn.functional.pad(x.reshape(-1).to(ScalarType.Float32), [0, blocks * blockSize - m]).view(blocks, blockSize); // [blocks, bs]
        var a = padded.abs().amax([1]);                                                         // [blocks]
        var scaled = (padded * (ones_like(a) / a).unsqueeze(1)).view(-1).narrow(0, 0, m);       // [m]
        var code = tensor(DynamicMap.Signed, device: x.device);
        var q = DynamicMap.NearestCode(scaled, code).to(ScalarType.Byte);
        absmax = a.MoveToOuterDisposeScope();
        map = code.MoveToOuterDisposeScope();
        return q.MoveToOuterDisposeScope();
    }

    /// <summary>The fp32 absmax of every 4-bit block [blocks], undoing the double quantization if any.</summary>
    public static Tensor DequantizeAbsmax(Nf4State s)
    {
        if (s.Nested is not { } nested) return s.Absmax.dtype == ScalarType.Float32 ? s.Absmax.clone() : s.Absmax.to(ScalarType.Float32);
        using var scope = NewDisposeScope();
        long blocks = s.Absmax.numel();
        var code = nested.Code.to(s.Absmax.device)[s.Absmax.to(ScalarType.Int64)];                              // [blocks]
        var scale = nested.Absmax.repeat_interleave(nested.BlockSize, 0, nested.Absmax.numel() * nested.BlockSize).narrow(0, 0, blocks); // [blocks]
        // two roundings, as in bitsandbytes: dequantize_blockwise writes code*absmax2, then absmax += offset
        var absmax = code * scale;
        return (absmax + tensor(nested.Offset, device: absmax.device)).MoveToOuterDisposeScope();
    }

    /// <summary>The original tensor back in <paramref name="dtype"/>; the fused kernel on CUDA, tensor ops elsewhere.</summary>
    public static Tensor Dequantize(Nf4State s, ScalarType dtype)
    {
        if (s.Device.type == DeviceType.CUDA && Nf4Kernel.TryDequantize(s, dtype, out var fused)) return fused;
        return DequantizeWithOps(s, dtype);
    }

    /// <summary>Dequantization with tensor ops only (any device): the reference the kernel is tested against.</summary>
    public static Tensor DequantizeWithOps(Nf4State s, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long n = s.NumElements, blocks = s.NumBlocks, bs = s.BlockSize;
        var dev = s.Device;
        var absmax = DequantizeAbsmax(s).to(dev);                                              // [blocks]
        var p = s.Packed.reshape(-1).to(ScalarType.Int64);                                     // [(n + 1) / 2]
        var codes = stack([p.div(16, RoundingMode.floor), p.remainder(16)], 1).view(-1);       // [even]
        var table = tensor(s.QuantType == Bnb4BitType.Nf4 ? Code : Fp4Code, device: dev);
        var values = nn.functional.pad(table[codes.narrow(0, 0, n)], [0, blocks * bs - n]).view(blocks, bs); // [blocks, bs]
        var w = (values * absmax.unsqueeze(1)).view(-1).narrow(0, 0, n);                       // [n]
        return w.to(dtype).reshape(s.Shape).MoveToOuterDisposeScope();
    }
}
