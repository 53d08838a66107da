using TorchSharp;
using static TorchSharp.torch;
using FinQLora.Runtime;

namespace FinQLora.Quantization;

/// <summary>
/// A frozen linear layer (no bias) whose weight [out, in] is held in 4 bits. The packed codes and
/// the quantization statistics are buffers, not parameters: they move with .to(device) and never
/// get gradients. Each forward dequantizes the weight to the compute dtype, multiplies and frees
/// it at once, and backward dequantizes it again for the input gradient, so at most one layer's
/// dense weight exists at any time, also during training (the graph keeps no dense weight).
/// </summary>
public sealed class Nf4Linear : nn.Module<Tensor, Tensor>
{
    // Buffer names: the suffixes bitsandbytes uses after "weight" in a checkpoint, '.' -> '_'.
    private const string Packed = "weight", Absmax = "weight_absmax", NestedAbsmax = "weight_nested_absmax", NestedCode = "weight_nested_quant_map";

    private readonly int _blockSize;
    private readonly long[] _shape;
    private readonly ScalarType _storedDType;
    private readonly float? _offset;
    private readonly int _nestedBlockSize;
    private readonly Bnb4BitType _quantType;

    public ScalarType ComputeDType { get; }
    public long InFeatures => _shape[1];
    public long OutFeatures => _shape[0];

    /// <summary>Quantizes a dense weight [out, in] (NF4, blocks of <paramref name="blockSize"/>, double quantization).</summary>
    public Nf4Linear(Tensor weight, ScalarType computeDtype, int blockSize = 64, bool doubleQuant = true)
        : this(Nf4.Quantize(weight, blockSize, doubleQuant), computeDtype) { }

    /// <summary>Takes ownership of <paramref name="state"/>'s tensors (a 2-D weight [out, in]).</summary>
    public Nf4Linear(Nf4State state, ScalarType computeDtype) : base(nameof(Nf4Linear))
    {
        if (state.Shape.Length != 2)
            throw new FinQLoraException($"Nf4Linear needs a 2-D weight [out, in], got shape [{string.Join(", ", state.Shape)}]");
        if (computeDtype is not (ScalarType.BFloat16 or ScalarType.Float16 or ScalarType.Float32))
            throw new FinQLoraException($"Nf4Linear computes in bfloat16, float16 or float32, not {computeDtype}");
        ComputeDType = computeDtype;
        _blockSize = state.BlockSize;
        _shape = state.Shape;
        _storedDType = state.DType;
        _quantType = state.QuantType;
        register_buffer(Packed, state.Packed);
        register_buffer(Absmax, state.Absmax);
        if (state.Nested is { } nested)
        {
            register_buffer(NestedAbsmax, nested.Absmax);
            register_buffer(NestedCode, nested.Code);
            _offset = nested.Offset;
            _nestedBlockSize = nested.BlockSize;
        }
    }

    /// <summary>The quantized weight as it is now (its tensors are this module's buffers: do not dispose).</summary>
    public Nf4State State => new(
        get_buffer(Packed)!, get_buffer(Absmax)!, _blockSize, _shape, _storedDType,
        _offset is float offset ? new Nf4NestedState(get_buffer(NestedAbsmax)!, get_buffer(NestedCode)!, offset, _nestedBlockSize) : null,
        _quantType);

    /// <summary>Bytes held by the packed weight and its statistics.</summary>
    public long ResidentBytes => State.ResidentBytes;

    /// <summary>A model-wide .to(dtype) must not touch the codes or their fp32 statistics: ignored here.</summary>
    protected override nn.Module _to(ScalarType dtype, bool non_blocking = false) => this;

    /// <summary>The dense weight [out, in] in the compute dtype (a new tensor: the caller disposes it).</summary>
    public Tensor DequantizedWeight() => Nf4.Dequantize(State, ComputeDType);

    public override Tensor forward(Tensor x)
    {
        if (x.shape[^1] != InFeatures)
            throw new ArgumentException($"Nf4Linear expects inputs [..., {InFeatures}], got [{string.Join(", ", x.shape)}]");
        if (x.dtype != ComputeDType) x = x.to(ComputeDType);
        if (x.requires_grad && is_grad_enabled()) return Nf4LinearFunction.apply(x, this);
        using var w = DequantizedWeight();                         // [out, in]
        return nn.functional.linear(x, w);                         // [..., out]
    }

    /// <summary>y = x Wᵀ with the input gradient only; the weight is dequantized again in backward.</summary>
    private sealed class Nf4LinearFunction : autograd.SingleTensorFunction<Nf4LinearFunction>
    {
        public override string Name => nameof(Nf4LinearFunction);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var x = (Tensor)vars[0];
            var layer = (Nf4Linear)vars[1];
            ctx.save_data("layer", layer);
            using var _ = no_grad();
            using var w = layer.DequantizedWeight();               // [out, in]
            return nn.functional.linear(x, w);                     // [..., out]
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            var layer = (Nf4Linear)ctx.get_data("layer");
            using var _ = no_grad();
            using var w = layer.DequantizedWeight();               // [out, in]
            var gradInput = gradOutput.matmul(w);                  // [..., out] @ [out, in] -> [..., in]
            gradOutput.Dispose();                                  // TorchSharp's wrapper (see AutogradHandoff)
            return Runtime.AutogradHandoff.Return(gradInput, null);
        }
    }
}
