using TorchSharp;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

public class Nf4LinearTests
{
    private static Tensor Weight(long outF, long inF, int seed)
    {
        random.manual_seed(seed);
        return normal(0, 0.05, [outF, inF]);
    }

    [Fact]
    public void Forward_multiplies_by_the_dequantized_weight()
    {
        using var scope = NewDisposeScope();
        var w = Weight(24, 64, 1);
        using var layer = new Nf4Linear(w, ScalarType.Float32);
        var x = randn(2, 5, 64);
        var y = layer.call(x);
        Assert.Equal(new long[] { 2, 5, 24 }, y.shape);
        var expected = nn.functional.linear(x, Nf4.Dequantize(Nf4.Quantize(w), ScalarType.Float32));
        Assert.True(y.equal(expected).all().item<bool>());
    }

    [Fact]
    public void The_weight_is_held_in_buffers_not_parameters()
    {
        using var layer = new Nf4Linear(Weight(16, 128, 2), ScalarType.BFloat16);
        Assert.Empty(layer.parameters());
        var names = layer.named_buffers().Select(b => b.name).ToHashSet();
        Assert.Equal(new HashSet<string> { "weight", "weight_absmax", "weight_nested_absmax", "weight_nested_quant_map" }, names);
        Assert.Equal(ScalarType.Byte, layer.State.Packed.dtype);
        Assert.Equal(16 * 128 / 2, layer.State.Packed.numel());
        Assert.Equal(16 * 128 / 2 + 32 + 4 + 1024, layer.ResidentBytes);   // packed + uint8 absmax + 1 nested absmax + map
    }

    [Fact]
    public void The_input_gradient_matches_finite_differences()
    {
        using var scope = NewDisposeScope();
        var w = Weight(8, 64, 3);
        using var layer = new Nf4Linear(w, ScalarType.Float32);
        random.manual_seed(4);
        var x0 = randn(3, 64);
        var r = randn(3, 8);
        double Loss(Tensor x)
        {
            using var _ = no_grad();
            return (layer.call(x).tanh() * r).sum().item<float>();
        }
        var x = x0.clone().requires_grad_(true);
        (layer.call(x).tanh() * r).sum().backward();
        var grad = x.grad!;
        const float eps = 1e-2f;
        foreach (var (i, j) in new[] { (0, 0), (1, 17), (2, 63), (0, 40), (2, 5) })
        {
            var plus = x0.clone(); plus[i, j] += eps;
            var minus = x0.clone(); minus[i, j] -= eps;
            double numeric = (Loss(plus) - Loss(minus)) / (2 * eps);
            double analytic = grad[i, j].item<float>();
            Assert.True(Math.Abs(numeric - analytic) <= 2e-3 + 2e-2 * Math.Abs(analytic), $"({i},{j}): numeric {numeric}, analytic {analytic}");
        }
    }

    [Fact]
    public void The_input_gradient_equals_that_of_a_dense_layer_with_the_dequantized_weight()
    {
        using var scope = NewDisposeScope();
        var w = Weight(12, 32, 5);
        using var layer = new Nf4Linear(w, ScalarType.Float32);
        var dense = layer.DequantizedWeight();
        var x1 = randn(4, 32).requires_grad_(true);
        var x2 = x1.detach().clone().requires_grad_(true);
        layer.call(x1).pow(2).sum().backward();
        nn.functional.linear(x2, dense).pow(2).sum().backward();
        Assert.True(allclose(x1.grad!, x2.grad!, 1e-5, 1e-6));
        Assert.All(layer.buffers(), b => Assert.Null(b.grad));
    }

    [Fact]
    public void A_state_read_from_a_checkpoint_builds_the_same_layer()
    {
        using var scope = NewDisposeScope();
        var w = Weight(16, 64, 6);
        var state = Nf4.Quantize(w.to(ScalarType.BFloat16));
        var tensors = BnbNf4Format.ToTensors("model.layers.0.mlp.up_proj", state);
        using var layer = new Nf4Linear(BnbNf4Format.FromTensors("model.layers.0.mlp.up_proj", n => tensors.GetValueOrDefault(n)), ScalarType.BFloat16);
        var x = randn(3, 64).to(ScalarType.BFloat16);
        var expected = nn.functional.linear(x, Nf4.Dequantize(state, ScalarType.BFloat16));
        Assert.True(layer.call(x).equal(expected).all().item<bool>());
    }

    [Fact]
    public void Non_matrix_states_are_refused()
    {
        using var s = Nf4.Quantize(zeros(64));
        Assert.Throws<FinQLoraException>(() => new Nf4Linear(s, ScalarType.Float32));
    }
}

public class Nf4LinearDTypeTests
{
    [Fact]
    public void A_model_wide_dtype_cast_leaves_the_quantized_weight_alone()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(12);
        using var layer = new Nf4Linear(normal(0, 0.05, [16, 64]), ScalarType.Float32);
        var before = layer.DequantizedWeight();
        layer.to(ScalarType.BFloat16);
        Assert.Equal(ScalarType.Byte, layer.State.Packed.dtype);
        Assert.Equal(ScalarType.Float32, layer.State.Nested!.Absmax.dtype);
        Assert.Equal(ScalarType.Float32, layer.State.Nested.Code.dtype);
        Assert.True(layer.DequantizedWeight().equal(before).all().item<bool>());
    }
}
