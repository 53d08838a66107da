using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>RMSNorm as transformers computes it: in fp32, cast back to the input dtype, then times the weight.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly double _eps;
    public Parameter weight;

    public RmsNorm(long size, double eps, ScalarType dtype, Device device) : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = new Parameter(ones(size, dtype, device), requires_grad: false);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => Cuda.Fused.RmsNorm(x, weight, _eps) ?? WithOps(x, weight, _eps);   // bf16 on CUDA: one kernel

    /// <summary>The tensor-ops computation (CPU, other dtypes, trainable weights; the fused kernel's reference).</summary>
    public static Tensor WithOps(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to(ScalarType.Float32);
        var variance = x32.pow(2).mean([-1], keepdim: true);
        var normed = (x32 * rsqrt(variance + eps)).to(x.dtype);
        return (weight * normed).MoveToOuterDisposeScope();
    }
}
