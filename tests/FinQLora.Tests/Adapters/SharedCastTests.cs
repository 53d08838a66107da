using FinQLora.Adapters;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

/// <summary>q, k and v (and gate, up) share one fp32 cast of their bf16 input: same outputs, same gradients up to rounding.</summary>
public class SharedCastTests
{
    [Fact]
    public void Sharing_the_cast_changes_no_output_and_gradients_only_by_rounding()
    {
        using var model = LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.BFloat16));
        LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "k_proj", "v_proj"]), "default", trainable: true, seed: 3);
        var attn = model.Layers.First().self_attn;
        var projections = new nn.Module<Tensor, Tensor>[] { attn.q_proj, attn.k_proj, attn.v_proj };
        random.manual_seed(5);
        using (no_grad())
            foreach (var p in projections.Cast<LoraLinear>()) p.Adapters[0].B.normal_(0, 0.5);   // B starts at zero: make the adapters matter
        var x = randn([2, 5, model.Config.HiddenSize], ScalarType.BFloat16);

        (Tensor[] Outputs, Tensor Grad) Run(bool shared)
        {
            var input = x.detach().requires_grad_(true);
            var cast = shared ? SharedInput.Cast(input, projections) : null;
            Assert.Equal(shared, cast is not null);
            var outs = projections.Select(p => SharedInput.Call(p, input, cast)).ToArray();
            outs.Aggregate((a, b) => a.sum() + b.sum()).backward();
            return (outs.Select(o => o.detach()).ToArray(), input.grad!);
        }

        var (separate, gradSeparate) = Run(false);
        var (shared, gradShared) = Run(true);
        for (int i = 0; i < separate.Length; i++) Assert.True(separate[i].eq(shared[i]).all().item<bool>(), $"projection {i}");
        // separate: three bf16 roundings of the adapters' input gradients, then bf16 sums; shared: one fp32 sum, one rounding
        var a = gradSeparate.to(ScalarType.Float32);
        var b = gradShared.to(ScalarType.Float32);
        double relative = ((a - b).norm() / a.norm()).item<float>();
        Assert.True(relative < 1e-2, $"relative difference {relative}");
        Assert.True(gradShared.to(ScalarType.Float32).abs().sum().item<float>() > 0);
    }
}
