using System.Text.Json;
using FinQLora.Cuda;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Benchmarks;

/// <summary>One comparison of a fused kernel with the tensor-ops path.</summary>
public sealed record FusedCheckResult(string Check, long[] Shape, double MaxAbsDiff, double MaxRef, double FractionEqual);

/// <summary>
/// The fused kernels (<see cref="FusedKernels"/>) against the tensor-ops path on CUDA, bf16, forward
/// and backward: RoPE's forward must be bitwise equal; RMSNorm's forward differs only where the
/// order of the sum of squares moves a value across a bf16 rounding boundary; gradients agree to
/// bf16 precision (the ops path rounds intermediate products differently).
/// </summary>
public static class FusedCheck
{
    public static IReadOnlyList<FusedCheckResult> Run(Device device, int batch = 2, int seq = 256, int hidden = 4096, int heads = 32, int headDim = 128)
    {
        var results = new List<FusedCheckResult>();
        using var scope = NewDisposeScope();
        random.manual_seed(7);
        var x = randn([batch, seq, hidden], ScalarType.BFloat16, device);
        var w = (1 + 0.1 * randn([hidden], ScalarType.Float32, device)).to(ScalarType.BFloat16);
        var g = randn([batch, seq, hidden], ScalarType.BFloat16, device);

        var fused = Fused.RmsNorm(x, w, 1e-5) ?? throw new FinQLoraException("the fused kernels do not apply on " + device);
        results.Add(Compare("rmsnorm forward", fused, RmsNorm.WithOps(x, w, 1e-5)));
        Tensor Grad(Func<Tensor, Tensor> f, Tensor input, Tensor gradOut)
        {
            var leaf = input.detach().requires_grad_(true);
            f(leaf).backward([gradOut]);
            Runtime.AutogradHandoff.Release();
            return leaf.grad!.clone();
        }
        results.Add(Compare("rmsnorm backward", Grad(t => Fused.RmsNorm(t, w, 1e-5)!, x, g), Grad(t => RmsNorm.WithOps(t, w, 1e-5), x, g)));

        var positions = arange(seq, ScalarType.Int64, device).unsqueeze(0).expand(batch, seq);
        using var rope = new RotaryEmbedding(headDim, LlamaConfig.Llama31_8B.Rope, device);
        var (cos, sin) = rope.Compute(positions, ScalarType.BFloat16);                                         // [b, s, d_h]
        var q = randn([batch, seq, heads, headDim], ScalarType.BFloat16, device);                              // [b, s, h, d_h]
        var gq = randn([batch, seq, heads, headDim], ScalarType.BFloat16, device);
        Tensor Ops(Tensor t) => RotaryEmbedding.Apply(t.transpose(1, 2), cos, sin).transpose(1, 2);
        results.Add(Compare("rope forward", Fused.Rope(q, cos, sin)!, Ops(q)));
        results.Add(Compare("rope backward", Grad(t => Fused.Rope(t, cos, sin)!, q, gq), Grad(Ops, q, gq)));
        return results;
    }

    private static FusedCheckResult Compare(string name, Tensor got, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = got.to(ScalarType.Float32);
        var b = expected.to(ScalarType.Float32);
        return new FusedCheckResult(name, got.shape, (a - b).abs().max().item<float>(), b.abs().max().item<float>(),
            a.eq(b).to(ScalarType.Float32).mean().item<float>());
    }

    public static string ToJson(FusedCheckResult r) => JsonSerializer.Serialize(r, BenchJson.Options);
}
