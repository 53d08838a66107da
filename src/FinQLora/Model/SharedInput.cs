using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// A projection that runs part of its work on its input cast to another dtype (a LoRA projection: fp32 adapters on a
/// bf16 base), and can take that cast from its caller instead of making it.
/// </summary>
public interface ICastInputProjection
{
    /// <summary>The dtypes the projection casts its input to (one per adapter; none without adapters).</summary>
    IEnumerable<ScalarType> InputDTypes { get; }

    /// <summary>The projection of <paramref name="x"/>; <paramref name="castInput"/>, when given, is x already cast.</summary>
    Tensor Forward(Tensor x, Tensor? castInput);
}

/// <summary>
/// One cast of an input shared by the projections that read it (q, k, v; gate, up), so the cast runs and is kept for
/// backward once instead of once per projection. Attention and MLP call their projections through <see cref="Call"/>.
/// </summary>
public static class SharedInput
{
    /// <summary>
    /// <paramref name="x"/> cast once for <paramref name="projections"/>, or null when fewer than two casts of one dtype
    /// different from x's would be made (then each projection casts, or needs no cast).
    /// </summary>
    public static Tensor? Cast(Tensor x, params nn.Module<Tensor, Tensor>[] projections)
    {
        var dtypes = projections.OfType<ICastInputProjection>().SelectMany(p => p.InputDTypes).Where(d => d != x.dtype).ToList();
        if (dtypes.Count < 2 || dtypes.Distinct().Count() != 1) return null;
        return x.to(dtypes[0]);
    }

    /// <summary>Runs <paramref name="projection"/> on x, passing it the shared cast when it takes one.</summary>
    public static Tensor Call(nn.Module<Tensor, Tensor> projection, Tensor x, Tensor? castInput) =>
        projection is ICastInputProjection p ? p.Forward(x, castInput) : projection.call(x);
}
