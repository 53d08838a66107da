using System.Collections.Concurrent;
using FinQLora.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// 4-bit and 8-bit blockwise quantization on CUDA, compiled like bitsandbytes' own kernels with
/// --use_fast_math. That matters for exactness: bitsandbytes computes 1/absmax with the GPU's
/// approximate reciprocal (fast math), which can differ from IEEE division in the last bit and so,
/// rarely, move a value across a code boundary. Running the same expression through the same
/// compiler mode reproduces its bytes on the GPU; the tensor-ops path (IEEE) is used elsewhere.
/// Set FINQLORA_NF4_KERNEL=0 to use tensor ops on CUDA too.
/// </summary>
public static class Nf4QuantizeKernel
{
    private const int Threads = 128;

    internal const string Source = """
        typedef unsigned char u8;
        typedef unsigned int u32;

        // bitsandbytes' dQuantizeNF4 decision tree (float32 midpoints, strictly greater)
        __device__ __forceinline__ u32 nf4_code(float x) {
            if (x > 0.03979014977812767f)
                if (x > 0.3893125355243683f)
                    if (x > 0.6427869200706482f) return x > 0.8614784181118011f ? 15u : 14u;
                    else return x > 0.5016634166240692f ? 13u : 12u;
                else if (x > 0.2035212516784668f) return x > 0.2920137718319893f ? 11u : 10u;
                else return x > 0.1202552504837513f ? 9u : 8u;
            else if (x > -0.33967943489551544f)
                if (x > -0.13791173323988914f) return x > -0.045525018125772476f ? 7u : 6u;
                else return x > -0.23460740596055984f ? 5u : 4u;
            else if (x > -0.6106329262256622f) return x > -0.4599952697753906f ? 3u : 2u;
            else return x > -0.8480964004993439f ? 1u : 0u;
        }

        // dQuantizeFP4
        __device__ __forceinline__ u32 fp4_code(float x) {
            u32 sign = x < 0 ? 8u : 0u;
            x = fabsf(x);
            if (x > 0.29166667f)
                if (x > 0.583333f) return (x > 0.8333333f ? 3u : 2u) + sign;
                else return (x > 0.4166667f ? 5u : 4u) + sign;
            else if (x > 0.0859375f) return (x > 0.20833333f ? 7u : 6u) + sign;
            else return (x > 0.00260417f ? 1u : 0u) + sign;
        }

        // one thread per block of bs values (bs even); w is float32
        extern "C" __global__ void quantize4(const float* __restrict__ w, long long n, int bs, int fp4,
                                             u8* __restrict__ packed, float* __restrict__ absmax, long long blocks) {
            const long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (b >= blocks) return;
            const long long s = b * bs;
            const long long e = s + bs < n ? s + bs : n;
            float m = 0.0f;
            for (long long i = s; i < e; i++) m = fmaxf(m, fabsf(w[i]));
            absmax[b] = m;
            const float r = 1.0f / m;          // as bitsandbytes: reciprocal under fast math, then multiply
            for (long long i = s; i < e; i += 2) {
                const float x0 = w[i] * r;
                const float x1 = (i + 1 < n ? w[i + 1] : 0.0f) * r;
                const u32 hi = fp4 ? fp4_code(x0) : nf4_code(x0);
                const u32 lo = fp4 ? fp4_code(x1) : nf4_code(x1);
                packed[i >> 1] = (u8)((hi << 4) | lo);
            }
        }

        // bitsandbytes' dQuantize<0>: binary search over the 256-value code, then nearest by midpoint
        __device__ __forceinline__ u32 quantize8_one(const float* __restrict__ code, float x) {
            int pivot = 127, upper_pivot = 255, lower_pivot = 0;
            float lower = -1.0f, upper = 1.0f;
            float val = code[pivot];
            for (int i = 64; i > 0; i >>= 1) {
                if (x > val) { lower_pivot = pivot; lower = val; pivot += i; }
                else { upper_pivot = pivot; upper = val; pivot -= i; }
                val = code[pivot];
            }
            if (upper_pivot == 255) upper = code[upper_pivot];
            if (lower_pivot == 0) lower = code[lower_pivot];
            if (x > val) { float mid = (upper + val) * 0.5f; return x > mid ? upper_pivot : pivot; }
            float mid = (lower + val) * 0.5f;
            return x < mid ? lower_pivot : pivot;
        }

        extern "C" __global__ void quantize8(const float* __restrict__ x, long long n, int bs, const float* __restrict__ code,
                                             u8* __restrict__ q, float* __restrict__ absmax, long long blocks) {
            __shared__ float smem_code[256];
            for (int i = threadIdx.x; i < 256; i += blockDim.x) smem_code[i] = code[i];
            __syncthreads();
            const long long b = (long long)blockIdx.x * blockDim.x + threadIdx.x;
            if (b >= blocks) return;
            const long long s = b * bs;
            const long long e = s + bs < n ? s + bs : n;
            float m = 0.0f;
            for (long long i = s; i < e; i++) m = fmaxf(m, fabsf(x[i]));
            absmax[b] = m;
            const float r = 1.0f / m;
            for (long long i = s; i < e; i++) q[i] = (u8)quantize8_one(smem_code, x[i] * r);
        }
        """;

    private sealed record Compiled(IntPtr Quantize4, IntPtr Quantize8);

    private static readonly KernelModule Kernels = new(Source, "nf4_quantize.cu", "--use_fast_math");

    private static readonly ConcurrentDictionary<int, Compiled> Modules = new();
    private static string? _failure;

    /// <summary>Why the kernel is not used, or null.</summary>
    public static string? Failure => _failure;

    /// <summary>
    /// 4-bit codes and fp32 absmax of <paramref name="weight"/> (on CUDA) with the kernel; false when
    /// it is disabled or unavailable (the caller uses tensor ops).
    /// </summary>
    public static bool TryQuantize4(Tensor weight, int blockSize, Bnb4BitType type, out Tensor packed, out Tensor absmax)
    {
        packed = absmax = null!;
        if (!Nf4Kernel.Enabled || _failure is not null || weight.device.type != DeviceType.CUDA) return false;
        try
        {
            (packed, absmax) = Quantize4(weight, blockSize, type);
            return true;
        }
        catch (Exception e) when (e is FinQLoraException or DllNotFoundException or EntryPointNotFoundException)
        {
            _failure = e.Message;
            Console.Error.WriteLine($"warning: the NF4 quantization kernel is not available, using tensor ops: {e.Message}");
            return false;
        }
    }

    /// <summary>uint8 [(n+1)/2] codes and float32 [blocks] absmax.</summary>
    public static (Tensor Packed, Tensor Absmax) Quantize4(Tensor weight, int blockSize, Bnb4BitType type)
    {
        using var scope = NewDisposeScope();
        var w = weight.detach().reshape(-1).to(ScalarType.Float32).contiguous();    // exact for bf16/fp16
        long n = w.numel(), blocks = (n + blockSize - 1) / blockSize;
        var k = ForDevice(w.device);
        var packed = empty((n + 1) / 2, ScalarType.Byte, w.device);
        var absmax = empty(blocks, ScalarType.Float32, w.device);
        IntPtr pw = DevicePointer.Of(w), pp = DevicePointer.Of(packed), pa = DevicePointer.Of(absmax);
        int bs = blockSize, fp4 = type == Bnb4BitType.Fp4 ? 1 : 0;
        unsafe
        {
            IntPtr* args = stackalloc IntPtr[7];
            args[0] = (IntPtr)(&pw); args[1] = (IntPtr)(&n); args[2] = (IntPtr)(&bs); args[3] = (IntPtr)(&fp4);
            args[4] = (IntPtr)(&pp); args[5] = (IntPtr)(&pa); args[6] = (IntPtr)(&blocks);
            CudaDriver.Launch(k.Quantize4, Grid(blocks), Threads, CudaDriver.DefaultStream, new ReadOnlySpan<IntPtr>(args, 7));
        }
        return (packed.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>bitsandbytes' 8-bit blockwise quantization of float32 <paramref name="x"/> with <paramref name="code"/> [256].</summary>
    public static (Tensor Q, Tensor Absmax) Quantize8(Tensor x, int blockSize, Tensor code)
    {
        using var scope = NewDisposeScope();
        var v = x.reshape(-1).to(ScalarType.Float32).contiguous();
        var c = code.to(ScalarType.Float32).to(v.device).contiguous();
        long n = v.numel(), blocks = (n + blockSize - 1) / blockSize;
        var k = ForDevice(v.device);
        var q = empty(n, ScalarType.Byte, v.device);
        var absmax = empty(blocks, ScalarType.Float32, v.device);
        IntPtr px = DevicePointer.Of(v), pc = DevicePointer.Of(c), pq = DevicePointer.Of(q), pa = DevicePointer.Of(absmax);
        int bs = blockSize;
        unsafe
        {
            IntPtr* args = stackalloc IntPtr[7];
            args[0] = (IntPtr)(&px); args[1] = (IntPtr)(&n); args[2] = (IntPtr)(&bs); args[3] = (IntPtr)(&pc);
            args[4] = (IntPtr)(&pq); args[5] = (IntPtr)(&pa); args[6] = (IntPtr)(&blocks);
            CudaDriver.Launch(k.Quantize8, Grid(blocks), Threads, CudaDriver.DefaultStream, new ReadOnlySpan<IntPtr>(args, 7));
        }
        return (q.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    private static uint Grid(long blocks)
    {
        long grid = (blocks + Threads - 1) / Threads;
        if (grid > int.MaxValue) throw new FinQLoraException("tensor too large for the quantization kernel");
        return (uint)Math.Max(grid, 1);
    }

    private static Compiled ForDevice(Device device)
    {
        int ordinal = device.index < 0 ? 0 : device.index;
        CudaDriver.EnsureContext(ordinal);
        return Modules.GetOrAdd(ordinal, o => new Compiled(Kernels.Function(o, "quantize4"), Kernels.Function(o, "quantize8")));
    }
}
