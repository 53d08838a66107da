using static TorchSharp.torch;

namespace FinQLora.Cuda;

/// <summary>
/// Fused bf16 kernels for the elementwise work around the matmuls, each one pass over memory where
/// TorchSharp ops take several (and a launch each): RMSNorm forward and input-gradient, and rotary
/// embedding forward and backward. Every rounding of the forward passes is the one the tensor-ops
/// path does (fp32 math, bf16 results), except the order of RMSNorm's sum of squares. Used by
/// <c>Model.RmsNorm</c> and <c>Model.RotaryEmbedding</c> for bf16 tensors on CUDA, unless
/// FINQLORA_FUSED=0; the tensor-ops path stays for the CPU, other dtypes and as the test reference.
/// </summary>
public static class FusedKernels
{
    public const string DisableEnv = "FINQLORA_FUSED";

    private const string Source = """
        typedef unsigned short bf16;
        typedef unsigned int u32;

        __device__ __forceinline__ float f32(bf16 v) { return __uint_as_float(((u32)v) << 16); }
        __device__ __forceinline__ bf16 rn(float f) {
            u32 u = __float_as_uint(f);
            if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16)0x7fc0u;   // NaN
            return (bf16)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);        // round to nearest even
        }
        __device__ __forceinline__ float r16(float f) { return f32(rn(f)); }   // a bf16 op's result

        __device__ __forceinline__ float block_sum(float v, float* shared) {
            for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            if (lane == 0) shared[warp] = v;
            __syncthreads();
            float t = 0.f;
            for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += shared[i];
            __syncthreads();
            return t;
        }

        // y = w * bf16(x * rsqrt(mean(x^2) + eps)), one block per row; rstd saved for backward.
        extern "C" __global__ void rmsnorm_fwd(const bf16* __restrict__ x, const bf16* __restrict__ w, bf16* __restrict__ y,
                                               float* __restrict__ rstd, int d, float eps) {
            __shared__ float shared[32];
            const long long row = blockIdx.x;
            const bf16* xr = x + row * d;
            bf16* yr = y + row * d;
            float ss = 0.f;
            for (int i = threadIdx.x; i < d; i += blockDim.x) { const float v = f32(xr[i]); ss += v * v; }
            const float r = rsqrtf(__fadd_rn(__fdiv_rn(block_sum(ss, shared), (float)d), eps));
            if (threadIdx.x == 0 && rstd != 0) rstd[row] = r;
            for (int i = threadIdx.x; i < d; i += blockDim.x)
                yr[i] = rn(__fmul_rn(f32(w[i]), r16(__fmul_rn(f32(xr[i]), r))));
        }

        // dx = r * gn - x * r^3 * sum(gn * x) / d, with gn = bf16(g * w) (the weight is frozen: no dw).
        extern "C" __global__ void rmsnorm_bwd(const bf16* __restrict__ x, const bf16* __restrict__ w, const bf16* __restrict__ g,
                                               const float* __restrict__ rstd, bf16* __restrict__ dx, int d) {
            __shared__ float shared[32];
            const long long row = blockIdx.x;
            const bf16* xr = x + row * d;
            const bf16* gr = g + row * d;
            float dot = 0.f;
            for (int i = threadIdx.x; i < d; i += blockDim.x) dot += r16(f32(gr[i]) * f32(w[i])) * f32(xr[i]);
            dot = block_sum(dot, shared);
            const float r = rstd[row];
            const float c = r * r * r * dot / (float)d;
            for (int i = threadIdx.x; i < d; i += blockDim.x)
                dx[row * d + i] = rn(r * r16(f32(gr[i]) * f32(w[i])) - f32(xr[i]) * c);
        }

        // Rotary embedding on x [rows = b*s*h, dh] (physical layout [b, s, h, dh]) with cos/sin [b*s, dh]:
        // out = bf16(bf16(x * cos) + bf16(rotate_half(x) * sin)), rotate_half(x) = cat(-x2, x1).
        // backward (inverse = 1): grad = g * cos + rotate_half^T(g * sin).
        extern "C" __global__ void rope(const bf16* __restrict__ x, const bf16* __restrict__ cos_, const bf16* __restrict__ sin_,
                                        bf16* __restrict__ out, long long rows, int heads, int dh, int backward) {
            const int half = dh >> 1;
            const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (t >= rows * half) return;
            const long long row = t / half;
            const int j = (int)(t - row * half);
            const long long pos = row / heads;
            const bf16* xr = x + row * dh;
            const bf16* c = cos_ + pos * dh;
            const bf16* s = sin_ + pos * dh;
            const float x1 = f32(xr[j]), x2 = f32(xr[j + half]);
            const float c1 = f32(c[j]), c2 = f32(c[j + half]), s1 = f32(s[j]), s2 = f32(s[j + half]);
            bf16* o = out + row * dh;
            if (!backward) {
                o[j] = rn(r16(x1 * c1) + r16(-x2 * s1));
                o[j + half] = rn(r16(x2 * c2) + r16(x1 * s2));
            } else {
                o[j] = rn(r16(x1 * c1) + r16(x2 * s2));
                o[j + half] = rn(r16(x2 * c2) - r16(x1 * s1));
            }
        }
        """;

    private static readonly KernelModule Module = new(Source, "finqlora_fused.cu");
    private static string? _failure;

    /// <summary>True when the fused path applies to <paramref name="t"/>: bf16 on CUDA, not disabled, and the kernels built.</summary>
    public static bool AppliesTo(Tensor t) =>
        _failure is null && t.device_type == TorchSharp.DeviceType.CUDA && t.dtype == ScalarType.BFloat16
        && Runtime.EnvironmentSettings.Current.FusedKernels;

    /// <summary>The function <paramref name="kernel"/> on <paramref name="t"/>'s GPU; if the kernels cannot be built, warns once and returns IntPtr.Zero (callers fall back to ops).</summary>
    private static IntPtr FunctionOrNull(Tensor t, string kernel)
    {
        try { return Module.Function(t.device_index < 0 ? 0 : t.device_index, kernel); }
        catch (Exception e) when (e is FinQLoraException or DllNotFoundException or EntryPointNotFoundException)
        {
            _failure = e.Message;
            Console.Error.WriteLine($"warning: the fused kernels are not available, using tensor ops: {e.Message}");
            return IntPtr.Zero;
        }
    }

    /// <summary>RMSNorm forward: x [..., d] bf16 contiguous, w [d] bf16 → (y like x, rstd [rows] fp32); null if the kernels are unavailable.</summary>
    public static (Tensor Y, Tensor Rstd)? RmsNormForward(Tensor x, Tensor w, double eps)
    {
        var f = FunctionOrNull(x, "rmsnorm_fwd");
        if (f == IntPtr.Zero) return null;
        using var scope = NewDisposeScope();   // the .contiguous() wrappers (this may run on libtorch's backward thread)
        x = x.contiguous();
        int d = (int)x.shape[^1];
        long rows = x.numel() / d;
        var y = empty_like(x);
        var rstd = empty([rows], ScalarType.Float32, x.device);
        IntPtr px = DevicePointer.Of(x), pw = DevicePointer.Of(w.contiguous()), py = DevicePointer.Of(y), pr = DevicePointer.Of(rstd);
        float e = (float)eps;
        unsafe
        {
            IntPtr* a = stackalloc IntPtr[6];
            a[0] = (IntPtr)(&px); a[1] = (IntPtr)(&pw); a[2] = (IntPtr)(&py); a[3] = (IntPtr)(&pr); a[4] = (IntPtr)(&d); a[5] = (IntPtr)(&e);
            CudaDriver.Launch(f, checked((uint)rows), 256, CudaDriver.DefaultStream, new ReadOnlySpan<IntPtr>(a, 6));
        }
        return (y.MoveToOuterDisposeScope(), rstd.MoveToOuterDisposeScope());
    }

    /// <summary>RMSNorm input gradient for a frozen weight: x, g [..., d] bf16; rstd from the forward.</summary>
    public static Tensor RmsNormBackward(Tensor x, Tensor w, Tensor g, Tensor rstd)
    {
        var f = Module.Function(x.device_index < 0 ? 0 : x.device_index, "rmsnorm_bwd");
        using var scope = NewDisposeScope();
        x = x.contiguous();
        g = g.contiguous();
        int d = (int)x.shape[^1];
        long rows = x.numel() / d;
        var dx = empty_like(x);
        IntPtr px = DevicePointer.Of(x), pw = DevicePointer.Of(w.contiguous()), pg = DevicePointer.Of(g), pr = DevicePointer.Of(rstd), pd = DevicePointer.Of(dx);
        unsafe
        {
            IntPtr* a = stackalloc IntPtr[6];
            a[0] = (IntPtr)(&px); a[1] = (IntPtr)(&pw); a[2] = (IntPtr)(&pg); a[3] = (IntPtr)(&pr); a[4] = (IntPtr)(&pd); a[5] = (IntPtr)(&d);
            CudaDriver.Launch(f, checked((uint)rows), 256, CudaDriver.DefaultStream, new ReadOnlySpan<IntPtr>(a, 6));
        }
        return dx.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rotary embedding of x [b, s, h, dh] (bf16; made contiguous) with cos/sin [b, s, dh] (bf16):
    /// the rotated tensor [b, s, h, dh], or its transpose for the gradient when <paramref name="backward"/>.
    /// Null if the kernels are unavailable.
    /// </summary>
    public static Tensor? Rope(Tensor x, Tensor cos, Tensor sin, bool backward = false)
    {
        var f = FunctionOrNull(x, "rope");
        if (f == IntPtr.Zero) return null;
        using var scope = NewDisposeScope();
        x = x.contiguous();
        cos = cos.contiguous();
        sin = sin.contiguous();
        int heads = (int)x.shape[2], dh = (int)x.shape[3];
        long rows = x.shape[0] * x.shape[1] * heads;
        var output = empty_like(x);
        IntPtr px = DevicePointer.Of(x), pc = DevicePointer.Of(cos), ps = DevicePointer.Of(sin), po = DevicePointer.Of(output);
        int bwd = backward ? 1 : 0;
        long pairs = rows * (dh / 2);
        unsafe
        {
            IntPtr* a = stackalloc IntPtr[8];
            a[0] = (IntPtr)(&px); a[1] = (IntPtr)(&pc); a[2] = (IntPtr)(&ps); a[3] = (IntPtr)(&po);
            a[4] = (IntPtr)(&rows); a[5] = (IntPtr)(&heads); a[6] = (IntPtr)(&dh); a[7] = (IntPtr)(&bwd);
            CudaDriver.Launch(f, checked((uint)((pairs + 255) / 256)), 256, CudaDriver.DefaultStream, new ReadOnlySpan<IntPtr>(a, 8));
        }
        return output.MoveToOuterDisposeScope();
    }
}
