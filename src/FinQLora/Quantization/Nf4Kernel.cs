using System.Collections.Concurrent;
using FinQLora.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Quantization;

/// <summary>
/// Fused 4-bit dequantization on CUDA. Lane l of a warp takes 32-bit word k*32+l of the warp's
/// 512 packed bytes in step k (k &lt; 4), so every load (128 B per warp) and every 16-byte store
/// (512 B per warp) is contiguous across the warp; all of a thread's global loads are issued before
/// any arithmetic, and there is no shared memory and no barrier (the 16-entry 4-bit code and the
/// 256-entry 8-bit map come through the read-only cache). Every rounding is the one the tensor-ops
/// path (<see cref="Nf4.DequantizeWithOps"/>) and bitsandbytes do, so the results are bitwise equal:
/// absmax = fl(fl(code8[q] * absmax2) + offset) (no FMA), value = fl(code4[c] * absmax), then
/// round-to-nearest-even to bf16 (cvt.rn.bf16x2.f32, the conversion torch's CUDA cast uses).
/// Compiled with NVRTC on first use for the current GPU, launched on the legacy default stream that
/// libtorch (through TorchSharp) uses. 77 % of copy_'s bandwidth on an H200 (docs/QUANTIZATION.md).
/// Set FINQLORA_NF4_KERNEL=0 to use the tensor-ops path instead.
/// </summary>
public static class Nf4Kernel
{
    public const string DisableEnv = "FINQLORA_NF4_KERNEL";
    private const int Threads = 256;
    private const int BytesPerWarp = 512;

    internal const string Source = """
        typedef unsigned char u8;
        typedef unsigned int u32;

        // (make_uint4 spelled out: no runtime headers needed under NVRTC)
        __device__ __forceinline__ uint4 u4(u32 a, u32 b, u32 c, u32 d) { uint4 r; r.x = a; r.y = b; r.z = c; r.w = d; return r; }

        // two floats to bf16, round to nearest even, lo in the low half
        __device__ __forceinline__ u32 bf16x2(float lo, float hi) {
        #if __CUDA_ARCH__ >= 800
            u32 r; asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r;
        #else
            u32 a = __float_as_uint(lo), b = __float_as_uint(hi);
            a = (a & 0x7fffffffu) > 0x7f800000u ? 0x7fffu : (a + 0x7fffu + ((a >> 16) & 1u)) >> 16;
            b = (b & 0x7fffffffu) > 0x7f800000u ? 0x7fffu : (b + 0x7fffu + ((b >> 16) & 1u)) >> 16;
            return a | (b << 16);
        #endif
        }

        template <bool BF16>
        __device__ __forceinline__ void dequant(
            const u8* __restrict__ packed, const float* __restrict__ absmax_f32, const u8* __restrict__ absmax_q,
            const float* __restrict__ absmax2, const float* __restrict__ code8, float offset,
            const float* __restrict__ code4, void* __restrict__ out, long long n, int block_shift, int nested_shift)
        {
            const int K = 4;
            const long long nbytes = (n + 1) / 2;
            const int lane = threadIdx.x & 31;
            const long long warp_base = (((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5) * (128LL * K);
            u32 w[K], qa[K];
            float a[K];
            #pragma unroll
            for (int k = 0; k < K; k++) {
                const long long b = warp_base + 4 * (k * 32 + lane);
                w[k] = 0; qa[k] = 0; a[k] = 0.f;
                if (b < nbytes) {
                    const long long blk = (2 * b) >> block_shift;   // a word's 8 values never straddle a block (block size >= 32)
                    if (absmax_q != 0) { qa[k] = __ldg(&absmax_q[blk]); a[k] = __ldg(&absmax2[blk >> nested_shift]); }
                    else a[k] = __ldg(&absmax_f32[blk]);
                    if (b + 4 <= nbytes) w[k] = __ldg(reinterpret_cast<const u32*>(packed + b));
                }
            }
            if (absmax_q != 0) {
                #pragma unroll
                for (int k = 0; k < K; k++) a[k] = __fadd_rn(__fmul_rn(__ldg(&code8[qa[k]]), a[k]), offset);
            }
            #pragma unroll
            for (int k = 0; k < K; k++) {
                const long long b = warp_base + 4 * (k * 32 + lane);
                if (b >= nbytes) break;
                const long long e = 2 * b;
                if (e + 8 <= n) {
                    float v[8];
                    #pragma unroll
                    for (int j = 0; j < 4; j++) {
                        const u32 q = (w[k] >> (8 * j)) & 0xffu;
                        v[2 * j] = __fmul_rn(__ldg(&code4[q >> 4]), a[k]);
                        v[2 * j + 1] = __fmul_rn(__ldg(&code4[q & 15u]), a[k]);
                    }
                    if (BF16) *reinterpret_cast<uint4*>(reinterpret_cast<unsigned short*>(out) + e) =
                        u4(bf16x2(v[0], v[1]), bf16x2(v[2], v[3]), bf16x2(v[4], v[5]), bf16x2(v[6], v[7]));
                    else {
                        uint4* o = reinterpret_cast<uint4*>(reinterpret_cast<float*>(out) + e);
                        o[0] = u4(__float_as_uint(v[0]), __float_as_uint(v[1]), __float_as_uint(v[2]), __float_as_uint(v[3]));
                        o[1] = u4(__float_as_uint(v[4]), __float_as_uint(v[5]), __float_as_uint(v[6]), __float_as_uint(v[7]));
                    }
                } else {   // the tensor's last (partial) word, byte by byte
                    for (long long i = b; i < nbytes && i < b + 4; i++) {
                        const u32 q = packed[i];
                        const long long x = 2 * i;
                        const float hi = __fmul_rn(__ldg(&code4[q >> 4]), a[k]), lo = __fmul_rn(__ldg(&code4[q & 15u]), a[k]);
                        if (BF16) {
                            unsigned short* o = reinterpret_cast<unsigned short*>(out);
                            const u32 r = bf16x2(hi, lo);
                            o[x] = (unsigned short)(r & 0xffffu);
                            if (x + 1 < n) o[x + 1] = (unsigned short)(r >> 16);
                        } else {
                            float* o = reinterpret_cast<float*>(out);
                            o[x] = hi;
                            if (x + 1 < n) o[x + 1] = lo;
                        }
                    }
                }
            }
        }

        extern "C" __global__ void __launch_bounds__(256) nf4_dequant_bf16(
            const u8* packed, const float* absmax_f32, const u8* absmax_q, const float* absmax2, const float* code8,
            float offset, const float* code4, void* out, long long n, int block_shift, int nested_shift)
        { dequant<true>(packed, absmax_f32, absmax_q, absmax2, code8, offset, code4, out, n, block_shift, nested_shift); }

        extern "C" __global__ void __launch_bounds__(256) nf4_dequant_f32(
            const u8* packed, const float* absmax_f32, const u8* absmax_q, const float* absmax2, const float* code8,
            float offset, const float* code4, void* out, long long n, int block_shift, int nested_shift)
        { dequant<false>(packed, absmax_f32, absmax_q, absmax2, code8, offset, code4, out, n, block_shift, nested_shift); }
        """;

    private sealed record Compiled(IntPtr Bf16, IntPtr F32, Tensor Nf4Code, Tensor Fp4Code);

    private static readonly KernelModule Kernels = new(Source, "nf4_dequant.cu");

    private static readonly ConcurrentDictionary<int, Compiled> Modules = new();
    private static readonly object Gate = new();
    private static string? _failure;

    /// <summary>Why the kernel is not used, or null when it is (after the first CUDA call).</summary>
    public static string? Failure => _failure;

    public static bool Enabled => Runtime.EnvironmentSettings.Current.Nf4Kernel;

    /// <summary>
    /// Dequantizes with the kernel when the state is on CUDA and the output dtype is bf16 or fp32;
    /// false (and the caller uses tensor ops) when the kernel is disabled or could not be built.
    /// </summary>
    public static bool TryDequantize(Nf4State s, ScalarType dtype, out Tensor result)
    {
        result = null!;
        if (!Enabled || _failure is not null || s.Device.type != DeviceType.CUDA) return false;
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float32)) return false;
        try
        {
            result = Dequantize(s, dtype);
            return true;
        }
        catch (Exception e) when (e is FinQLoraException or DllNotFoundException or EntryPointNotFoundException)
        {
            _failure = e.Message;
            Console.Error.WriteLine($"warning: the fused NF4 kernel is not available, using tensor ops: {e.Message}");
            return false;
        }
    }

    /// <summary>Dequantizes <paramref name="s"/> (on CUDA) to <paramref name="dtype"/> (bf16 or fp32) with the kernel; throws if it cannot.</summary>
    public static Tensor Dequantize(Nf4State s, ScalarType dtype)
    {
        if (s.Device.type != DeviceType.CUDA) throw new FinQLoraException("the NF4 kernel needs tensors on a CUDA device");
        if (dtype is not (ScalarType.BFloat16 or ScalarType.Float32))
            throw new FinQLoraException($"the NF4 kernel writes bfloat16 or float32, not {dtype}");
        var k = ForCurrentDevice(s.Device);
        var output = empty(s.Shape, dtype, s.Device);
        Launch(k, s, output);
        return output;
    }

    /// <summary>Dequantizes into an existing contiguous tensor of the state's element count (bf16 or fp32).</summary>
    public static void DequantizeInto(Nf4State s, Tensor output)
    {
        if (output.numel() != s.NumElements || !output.is_contiguous() || output.device_type != s.Packed.device_type || output.device_index != s.Packed.device_index)
            throw new ArgumentException("output must be a contiguous tensor on the state's device with the state's element count");
        Launch(ForCurrentDevice(s.Device), s, output);
    }

    /// <summary>A state's kernel arguments except the output: worked out once per packed tensor (its buffers do not move).</summary>
    private sealed record Args(IntPtr Source, IntPtr Packed, IntPtr AbsmaxF, IntPtr AbsmaxQ, IntPtr Absmax2, IntPtr Code8, float Offset,
        IntPtr Code4, long N, int BlockShift, int NestedShift, Tensor[] Keep);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, Args> ArgsCache = new();

    private static void Launch(Compiled k, Nf4State s, Tensor output)
    {
        long n = s.NumElements;
        if (n == 0) return;
        if (!ArgsCache.TryGetValue(s.Packed, out var a) || a.Source != DevicePointer.Of(s.Packed) || a.N != n)
        {
            a = PrepareArgs(k, s);
            ArgsCache.AddOrUpdate(s.Packed, a);
        }
        IntPtr pPacked = a.Packed, pAbsmaxF = a.AbsmaxF, pAbsmaxQ = a.AbsmaxQ, pAbsmax2 = a.Absmax2, pCode8 = a.Code8, pCode4 = a.Code4;
        float offset = a.Offset;
        int blockShift = a.BlockShift, nestedShift = a.NestedShift;
        IntPtr pOut = DevicePointer.Of(output);
        if (pOut % 16 != 0) throw new FinQLoraException("the NF4 kernel's output must be 16-byte aligned");
        long warps = ((n + 1) / 2 + BytesPerWarp - 1) / BytesPerWarp;
        long grid = (warps * 32 + Threads - 1) / Threads;
        if (grid > int.MaxValue) throw new FinQLoraException("tensor too large for the NF4 kernel");
        unsafe
        {
            IntPtr* args = stackalloc IntPtr[11];
            args[0] = (IntPtr)(&pPacked);
            args[1] = (IntPtr)(&pAbsmaxF);
            args[2] = (IntPtr)(&pAbsmaxQ);
            args[3] = (IntPtr)(&pAbsmax2);
            args[4] = (IntPtr)(&pCode8);
            args[5] = (IntPtr)(&offset);
            args[6] = (IntPtr)(&pCode4);
            args[7] = (IntPtr)(&pOut);
            args[8] = (IntPtr)(&n);
            args[9] = (IntPtr)(&blockShift);
            args[10] = (IntPtr)(&nestedShift);
            var function = output.dtype == ScalarType.BFloat16 ? k.Bf16 : k.F32;
            CudaDriver.Launch(function, (uint)grid, Threads, CudaDriver.DefaultStream,
                new ReadOnlySpan<IntPtr>(args, 11));
        }
    }

    /// <summary>
    /// The kernel's view of a state: contiguous, 4-byte-aligned packed codes and fp32 (or uint8 nested)
    /// absmax; copies made for that are kept alive by the cache entry.
    /// </summary>
    private static Args PrepareArgs(Compiled k, Nf4State s)
    {
        if (s.Packed.dtype != ScalarType.Byte || !s.Packed.is_contiguous())
            throw new FinQLoraException("the NF4 kernel needs the packed weight as contiguous uint8");
        var keep = new List<Tensor>();
        // a copy only where the original does not suit the kernel; the cache entry keeps it alive
        Tensor Suitable(Tensor t, bool ok, Func<Tensor> copy)
        {
            if (ok) return t;
            var c = copy().DetachFromDisposeScope();
            keep.Add(c);
            return c;
        }
        var packed = Suitable(s.Packed, DevicePointer.Of(s.Packed) % 4 == 0, () => s.Packed.clone());   // 32-bit loads need 4-byte alignment
        bool nested = s.Nested is not null;
        if (nested && s.Nested!.Code.numel() != 256) throw new FinQLoraException("the nested quant map must have 256 values");
        var absmax = Suitable(s.Absmax, s.Absmax.is_contiguous() && (nested || s.Absmax.dtype == ScalarType.Float32),
            () => nested ? s.Absmax.contiguous().clone() : s.Absmax.to(ScalarType.Float32).contiguous().clone());
        var absmax2 = nested ? Suitable(s.Nested!.Absmax, s.Nested!.Absmax.is_contiguous(), () => s.Nested!.Absmax.contiguous().clone()) : null;
        var code8 = nested ? Suitable(s.Nested!.Code, s.Nested!.Code.is_contiguous(), () => s.Nested!.Code.contiguous().clone()) : null;
        return new Args(
            DevicePointer.Of(s.Packed), DevicePointer.Of(packed),
            nested ? IntPtr.Zero : DevicePointer.Of(absmax),
            nested ? DevicePointer.Of(absmax) : IntPtr.Zero,
            nested ? DevicePointer.Of(absmax2!) : IntPtr.Zero,
            nested ? DevicePointer.Of(code8!) : IntPtr.Zero,
            nested ? s.Nested!.Offset : 0f,
            DevicePointer.Of(s.QuantType == Bnb4BitType.Nf4 ? k.Nf4Code : k.Fp4Code),
            s.NumElements, Log2(s.BlockSize), nested ? Log2(s.Nested!.BlockSize) : 0, keep.ToArray());
    }

    private static int Log2(int v)
    {
        if (v < 32 || (v & (v - 1)) != 0) throw new FinQLoraException($"the NF4 kernel needs a power-of-two block size >= 32, got {v}");
        return System.Numerics.BitOperations.Log2((uint)v);
    }

    private static Compiled ForCurrentDevice(Device device)
    {
        int ordinal = device.index < 0 ? 0 : device.index;
        CudaDriver.EnsureContext(ordinal);
        if (Modules.TryGetValue(ordinal, out var k)) return k;
        lock (Gate)
        {
            if (Modules.TryGetValue(ordinal, out k)) return k;
            IntPtr F(string kernel) => Kernels.Function(ordinal, kernel);
            var nf4 = tensor(Nf4.Code, device: device);
            var fp4 = tensor(Nf4.Fp4Code, device: device);
            nf4.DetachFromDisposeScope();
            fp4.DetachFromDisposeScope();
            k = new Compiled(F("nf4_dequant_bf16"), F("nf4_dequant_f32"), nf4, fp4);
            Modules[ordinal] = k;
            return k;
        }
    }
}
