using FinQLora.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>One LoRA adapter on one projection: delta(x) = B(A(dropout(x))) · scaling.</summary>
public sealed class LoraAdapter
{
    public required string Name { get; init; }
    public required Parameter A { get; init; }   // lora_A.weight [r, in]
    public required Parameter B { get; init; }   // lora_B.weight [out, r]
    public required double Scaling { get; init; }
    public required double Dropout { get; init; }
    public bool Trainable => A.requires_grad;
}

/// <summary>
/// A projection with any number of LoRA adapters (PEFT's LoraLayer, without its generality):
/// output = base_layer(x) + Σ B(A(dropout(x))) · scaling. The input is cast to A's dtype and each
/// delta back to the base output's dtype, as PEFT does. Every projection of a model built by
/// LlamaBuilder is one of these, with no adapter until one is attached; adapters register as
/// submodules named as PEFT names them in memory (lora_A.&lt;adapter&gt;.weight).
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>, ICastInputProjection
{
    public nn.Module<Tensor, Tensor> base_layer;
    private readonly List<LoraAdapter> _adapters = [];

    public long InFeatures { get; }
    public long OutFeatures { get; }
    public IReadOnlyList<LoraAdapter> Adapters => _adapters;

    /// <summary>The dtypes its adapters cast the input to (their A's).</summary>
    public IEnumerable<ScalarType> InputDTypes => _adapters.Select(a => a.A.dtype);

    /// <summary>Per-row adapter choice (a server's batch of requests for different adapters); null: every adapter applies to every row.</summary>
    public AdapterRouting? Routing { get; set; }

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, long inFeatures, long outFeatures) : base(nameof(LoraLinear))
    {
        base_layer = baseLayer;
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        RegisterComponents();
    }

    public void Add(LoraAdapter adapter)
    {
        if (_adapters.Any(a => a.Name == adapter.Name)) throw new FinQLoraException($"adapter '{adapter.Name}' is already attached; give each adapter its own name");
        if (adapter.A.shape[1] != InFeatures || adapter.B.shape[0] != OutFeatures || adapter.A.shape[0] != adapter.B.shape[1])
            throw new FinQLoraException($"adapter '{adapter.Name}': lora_A [{string.Join(", ", adapter.A.shape)}] and lora_B [{string.Join(", ", adapter.B.shape)}] do not fit a [{OutFeatures}, {InFeatures}] projection");
        _adapters.Add(adapter);
        register_parameter($"lora_A.{adapter.Name}.weight", adapter.A);
        register_parameter($"lora_B.{adapter.Name}.weight", adapter.B);
    }

    /// <summary>
    /// Swaps the base layer (e.g. for a requantized one after merging an adapter into it) and disposes
    /// the old one. The new base must compute the same [out, in] projection.
    /// </summary>
    public void ReplaceBase(nn.Module<Tensor, Tensor> newBase)
    {
        var old = base_layer;
        register_module(nameof(base_layer), null!);   // TorchSharp removes a submodule registered with null
        base_layer = newBase;
        register_module(nameof(base_layer), newBase);
        if (!ReferenceEquals(old, newBase)) old.Dispose();
    }

    public override Tensor forward(Tensor x) => Forward(x, null);

    /// <summary>
    /// The projection with its adapters; <paramref name="castInput"/>, when given, is <paramref name="x"/>
    /// already cast to the adapters' dtype by the caller, shared by projections that read the same input
    /// (q, k, v; gate, up), so the cast runs and is kept for backward once instead of once per projection.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor? castInput)
    {
        if (_adapters.Count == 0) return base_layer.call(x);
        using var scope = NewDisposeScope();
        var result = base_layer.call(x);
        var outDtype = result.dtype;
        foreach (var a in _adapters)
        {
            var rows = Routing?.RowMask(a.Name);                                                      // [b, 1, 1] or null
            if (Routing is not null && rows is null) continue;                                         // no row of this batch uses it
            var input = castInput is not null && castInput.dtype == a.A.dtype ? castInput : x.to(a.A.dtype);
            if (a.Dropout > 0 && training) input = nn.functional.dropout(input, a.Dropout, training: true);
            // the scaling multiplies the rank-r intermediate, not the [.., out] result as PEFT writes it: the same
            // maths (equal up to fp32 rounding) on out/r times fewer values, forward and backward
            var delta = nn.functional.linear(nn.functional.linear(input, a.A) * a.Scaling, a.B);   // [.., r] -> [.., out]
            if (rows is not null) delta = delta * rows.to(delta.dtype);                                 // [b, s, out] · [b, 1, 1]
            result = result + delta.to(outDtype);
        }
        return result.MoveToOuterDisposeScope();
    }
}
