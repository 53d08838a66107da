using FinQLora.Adapters;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class LoraLinearTests
{
    // base W [2, 3]; adapter r = 1: A [1, 3], B [2, 1]
    private static LoraLinear Layer(ScalarType baseDtype = ScalarType.Float32)
    {
        var w = tensor(new float[] { 1, 0, 0, 0, 1, 0 }).view(2, 3).to(baseDtype);
        return new LoraLinear(nn.Linear(new Parameter(w, requires_grad: false), null), 3, 2);
    }

    private static LoraAdapter Adapter(string name, float[] a, float[] b, double scaling, double dropout = 0, bool trainable = false, ScalarType dtype = ScalarType.Float32) => new()
    {
        Name = name, Scaling = scaling, Dropout = dropout,
        A = new Parameter(tensor(a).view(1, 3).to(dtype), requires_grad: trainable),
        B = new Parameter(tensor(b).view(2, 1).to(dtype), requires_grad: trainable),
    };

    [Fact]
    public void Output_is_base_plus_scaled_B_A_x()
    {
        using var layer = Layer();
        layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 0.5));
        layer.eval();
        // x = [1, 2, 3]: base = [1, 2]; A x = 6; B·6·0.5 = [3, 6]
        var y = layer.call(tensor(new float[] { 1, 2, 3 }).view(1, 3));
        Assert.Equal(new float[] { 4, 8 }, y.data<float>().ToArray());
    }

    [Fact]
    public void Stacked_adapters_add_their_deltas()
    {
        using var layer = Layer();
        layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 0.5));
        layer.Add(Adapter("b", [0, 0, 1], [-1, 0], scaling: 2));
        layer.eval();
        // second delta: A x = 3, B·3·2 = [-6, 0]
        var y = layer.call(tensor(new float[] { 1, 2, 3 }).view(1, 3));
        Assert.Equal(new float[] { -2, 8 }, y.data<float>().ToArray());
    }

    [Theory]
    [InlineData(4, 8, false, 2.0)]
    [InlineData(4, 8, true, 4.0)]
    [InlineData(16, 32, true, 8.0)]
    public void Scaling_is_alpha_over_r_or_over_sqrt_r_with_rslora(int r, double alpha, bool rslora, double expected)
    {
        Assert.Equal(expected, new LoraSettings(r, alpha, 0, ["q_proj"], rslora).Scaling, 12);
    }

    [Fact]
    public void Dropout_acts_on_the_adapter_input_only_and_only_in_training()
    {
        using var layer = Layer();
        layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 1, dropout: 0.5));
        var x = ones(64, 3);
        layer.eval();
        var evalOut = layer.call(x);
        Assert.True(evalOut.eq(tensor(new float[] { 4, 7 })).all().item<bool>());   // base [1, 1] + [3, 6]
        layer.train();
        random.manual_seed(5);
        var train1 = layer.call(x);
        random.manual_seed(5);
        var train2 = layer.call(x);
        Assert.True(train1.equal(train2).all().item<bool>());                    // seeded
        Assert.False(train1.equal(evalOut).all().item<bool>());                  // something was dropped
        // the base output is never dropped: delta = B · (A x̃) with x̃ ∈ {0, 2}³, so column 0 - 1 = delta/1 and column 1 - 1 = 2·delta
        var delta0 = train1[.., 0] - 1;
        var delta1 = train1[.., 1] - 1;
        Assert.True((delta1 - 2 * delta0).abs().max().item<float>() < 1e-5);
        Assert.True(((delta0 / 2) - (delta0 / 2).round()).abs().max().item<float>() < 1e-5);
    }

    [Fact]
    public void A_bf16_base_with_an_fp32_adapter_returns_the_base_dtype()
    {
        using var layer = Layer(ScalarType.BFloat16);
        layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 1e-3));
        layer.eval();
        var y = layer.call(tensor(new float[] { 1, 2, 3 }).view(1, 3).to(ScalarType.BFloat16));
        Assert.Equal(ScalarType.BFloat16, y.dtype);
        // [1 + 0.006, 2 + 0.012] rounded to bf16 (8 bits of mantissa: steps of 1/128 near 1 and 1/64 near 2)
        var expected = tensor(new float[] { 1.006f, 2.012f }).to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.Equal(expected.data<float>().ToArray(), y.to(ScalarType.Float32).data<float>().ToArray());
    }

    [Fact]
    public void Gradients_reach_the_trainable_adapter_only()
    {
        using var layer = Layer();
        var frozen = Adapter("stage1", [1, 1, 1], [1, 2], scaling: 1);
        var fresh = Adapter("stage2", [0.5f, 0, 0], [0, 0], scaling: 1, trainable: true);
        layer.Add(frozen);
        layer.Add(fresh);
        layer.train();
        layer.call(tensor(new float[] { 1, 2, 3 }).view(1, 3)).sum().backward();
        Assert.Null(frozen.A.grad);
        Assert.Null(frozen.B.grad);
        Assert.NotNull(fresh.B.grad);
        // dL/dB = A x = 0.5 for both outputs; dL/dA = Bᵀ·1 · x = 0 (B starts at zero)
        Assert.Equal(new float[] { 0.5f, 0.5f }, fresh.B.grad!.data<float>().ToArray());
        Assert.Equal(0f, fresh.A.grad!.abs().sum().item<float>());
        Assert.True(fresh.Trainable);
        Assert.False(frozen.Trainable);
    }

    [Fact]
    public void Adapters_are_registered_under_PEFTs_in_memory_names()
    {
        using var layer = Layer();
        layer.Add(Adapter("default", [1, 1, 1], [1, 2], scaling: 1));
        var names = layer.named_parameters().Select(p => p.name).ToList();
        Assert.Contains("lora_A.default.weight", names);
        Assert.Contains("lora_B.default.weight", names);
        Assert.Contains("base_layer.weight", names);
    }

    [Fact]
    public void A_second_adapter_with_the_same_name_or_a_wrong_shape_is_refused()
    {
        using var layer = Layer();
        layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 1));
        Assert.Contains("already attached", Assert.Throws<FinQLoraException>(() => layer.Add(Adapter("a", [1, 1, 1], [1, 2], scaling: 1))).Message);
        var wrong = new LoraAdapter { Name = "w", Scaling = 1, Dropout = 0, A = new Parameter(zeros(1, 4)), B = new Parameter(zeros(2, 1)) };
        Assert.Contains("do not fit a [2, 3] projection", Assert.Throws<FinQLoraException>(() => layer.Add(wrong)).Message);
    }
}
