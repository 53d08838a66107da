using static TorchSharp.torch;

namespace FinQLora.Cuda;

/// <summary>RMSNorm with a frozen weight on the fused kernels, differentiable in its input.</summary>
internal sealed class FusedRmsNormFunction : autograd.SingleTensorFunction<FusedRmsNormFunction>
{
    public override string Name => nameof(FusedRmsNormFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        double eps = (double)vars[2];
        using var _ = no_grad();
        var (y, rstd) = FusedKernels.RmsNormForward(x, weight, eps)!.Value;
        ctx.save_for_backward([x, weight, Runtime.AutogradHandoff.Keep(rstd)]);   // saved after forward returns
        return y;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        using var _ = no_grad();
        var dx = FusedKernels.RmsNormBackward(saved[0], saved[1], gradOutput, saved[2]);
        Runtime.AutogradHandoff.Dispose([.. saved, gradOutput]);
        return Runtime.AutogradHandoff.Return(dx, null, null);   // x, weight (frozen), eps
    }
}

/// <summary>Rotary embedding of [b, s, h, dh] on the fused kernel, differentiable in its input.</summary>
internal sealed class FusedRopeFunction : autograd.SingleTensorFunction<FusedRopeFunction>
{
    public override string Name => nameof(FusedRopeFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var cos = (Tensor)vars[1];
        var sin = (Tensor)vars[2];
        using var _ = no_grad();
        ctx.save_for_backward([cos, sin]);
        return FusedKernels.Rope(x, cos, sin)!;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
    {
        var saved = ctx.get_saved_variables();
        using var _ = no_grad();
        var dx = FusedKernels.Rope(gradOutput, saved[0], saved[1], backward: true)!;
        Runtime.AutogradHandoff.Dispose([.. saved, gradOutput]);
        return Runtime.AutogradHandoff.Return(dx, null, null);   // x, cos, sin (no gradient)
    }
}

/// <summary>Entry points that pick the fused kernels where they apply (bf16 on CUDA) and report whether they did.</summary>
public static class Fused
{
    /// <summary>RMSNorm of x with a frozen weight on the fused kernel, or null where it does not apply.</summary>
    public static Tensor? RmsNorm(Tensor x, Tensor weight, double eps)
    {
        if (!FusedKernels.AppliesTo(x) || weight.requires_grad || weight.dtype != ScalarType.BFloat16 || x.shape[^1] != weight.shape[0]) return null;
        if (x.requires_grad && is_grad_enabled()) return FusedRmsNormFunction.apply(x, weight, eps);
        if (FusedKernels.RmsNormForward(x, weight, eps) is not { } r) return null;
        r.Rstd.Dispose();
        return r.Y;
    }

    /// <summary>Rotary embedding of x [b, s, h, dh] with cos/sin [b, s, dh] on the fused kernel, or null where it does not apply.</summary>
    public static Tensor? Rope(Tensor x, Tensor cos, Tensor sin)
    {
        if (!FusedKernels.AppliesTo(x) || cos.dtype != ScalarType.BFloat16 || sin.dtype != ScalarType.BFloat16) return null;
        if (x.requires_grad && is_grad_enabled()) return FusedRopeFunction.apply(x, cos, sin);
        return FusedKernels.Rope(x, cos, sin);
    }
}
