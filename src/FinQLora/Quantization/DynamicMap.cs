using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// bitsandbytes' 8-bit "dynamic" code (Dettmers, 8-Bit Approximations for Parallelism in Deep
/// Learning), which double quantization uses for the per-block absmax of a 4-bit weight, and the
/// nearest-code search bitsandbytes' blockwise 8-bit quantizer does over it.
/// The map is rebuilt step by step in float32 exactly as create_dynamic_map does with torch on
/// the CPU (linspace, means, scaling by a power of ten, sort), so the values are bit-identical
/// (checked against bitsandbytes 0.50's create_dynamic_map: tests/fixtures/nf4/bnb_golden.json).
/// </summary>
public static class DynamicMap
{
    private static readonly Lazy<float[]> SignedDefault = new(() => Create(signed: true, maxExponentBits: 7, totalBits: 8));

    /// <summary>create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 sorted float32 values.</summary>
    public static float[] Signed => (float[])SignedDefault.Value.Clone();

    public static float[] Create(bool signed = true, int maxExponentBits = 7, int totalBits = 8)
    {
        var data = new List<float>();
        int nonSignBits = totalBits - 1;
        int additionalItems = (1 << (nonSignBits - maxExponentBits)) - 1;
        int i = 0;
        for (i = 0; i < maxExponentBits; i++)
        {
            int fractionItems = signed
                ? (1 << (i + nonSignBits - maxExponentBits)) + 1
                : (1 << (i + nonSignBits - maxExponentBits + 1)) + 1;
            AddScaledMeans(data, fractionItems, -(maxExponentBits - 1) + i, signed);
        }
        // bitsandbytes uses the loop variable's last value here (Python's i stays at max_exponent_bits - 1).
        if (additionalItems > 0) AddScaledMeans(data, additionalItems + 1, -(maxExponentBits - 1) + (i - 1), signed);
        data.Add(0f);
        data.Add(1f);
        if (data.Count != 1 << totalBits)
            throw new ArgumentException($"dynamic map with signed={signed}, max_exponent_bits={maxExponentBits}, total_bits={totalBits} has {data.Count} values, expected {1 << totalBits}");
        data.Sort();
        return [.. data];
    }

    private static void AddScaledMeans(List<float> data, int steps, int exponent, bool signed)
    {
        var b = Linspace(0.1f, 1f, steps);
        // torch: python scalar * float32 tensor -> the scalar is cast to float32 first
        float scale = exponent >= 0 ? (float)Pow10Int(exponent) : (float)Math.Pow(10.0, exponent);
        var means = new float[steps - 1];
        for (int j = 0; j < means.Length; j++) means[j] = (b[j] + b[j + 1]) / 2f;
        foreach (var m in means) data.Add(scale * m);
        if (signed) foreach (var m in means) data.Add(-scale * m);
    }

    private static double Pow10Int(int e)
    {
        double r = 1;
        for (int k = 0; k < e; k++) r *= 10;
        return r;
    }

    /// <summary>
    /// torch.linspace on the CPU in float32: start + step*i for the first half, end - step*(steps-1-i)
    /// after, each a fused multiply-add (torch's x86 CPU kernels are compiled with FMA contraction;
    /// bitsandbytes' map, dumped on the GPU machine, differs from the unfused values in 42 entries).
    /// </summary>
    internal static float[] Linspace(float start, float end, int steps)
    {
        var r = new float[steps];
        if (steps == 1) { r[0] = start; return r; }
        float step = (end - start) / (steps - 1);
        int halfway = steps / 2;
        for (int i = 0; i < steps; i++)
            r[i] = i < halfway ? MathF.FusedMultiplyAdd(step, i, start) : MathF.FusedMultiplyAdd(-step, steps - i - 1, end);
        return r;
    }

    /// <summary>
    /// The code index bitsandbytes' dQuantize (non-stochastic) picks for each element of
    /// <paramref name="x"/> (float32, already divided by its block's absmax): a 7-step binary
    /// search from index 127, then the nearer of the two neighbours by their float32 midpoint,
    /// ties to the search's last pivot. NaN (an all-zero block) gives index 0, as on the GPU.
    /// Returns int64 indices with x's shape.
    /// </summary>
    public static Tensor NearestCode(Tensor x, Tensor map)
    {
        using var scope = NewDisposeScope();
        var dev = x.device;
        map = map.to(ScalarType.Float32).to(dev);
        var pivot = full(x.shape, 127L, ScalarType.Int64, dev);
        var lowerPivot = zeros(x.shape, ScalarType.Int64, dev);
        var upperPivot = full(x.shape, 255L, ScalarType.Int64, dev);
        var lower = full(x.shape, -1f, ScalarType.Float32, dev);
        var upper = full(x.shape, 1f, ScalarType.Float32, dev);
        var val = map[pivot];
        for (long step = 64; step > 0; step >>= 1)
        {
            var gt = x > val;
            lowerPivot = where(gt, pivot, lowerPivot);
            lower = where(gt, val, lower);
            upperPivot = where(gt, upperPivot, pivot);
            upper = where(gt, upper, val);
            pivot = pivot + where(gt, step, -step);
            val = map[pivot];
        }
        upper = where(upperPivot == 255L, map[255], upper);
        lower = where(lowerPivot == 0L, map[0], lower);
        var above = x > val;
        var midUpper = (upper + val) * 0.5f;
        var midLower = (lower + val) * 0.5f;
        var result = where(above, where(x > midUpper, upperPivot, pivot), where(x < midLower, lowerPivot, pivot));
        return result.MoveToOuterDisposeScope();
    }
}
