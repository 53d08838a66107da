using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

public class CheckpointedLayersTests
{
    [Fact]
    public void Recomputed_layers_give_the_same_gradients_as_the_plain_graph()
    {
        using var model = LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        var trainable = model.Layers.SelectMany(l => new[] { l.input_layernorm.weight, l.post_attention_layernorm.weight }).ToList();
        foreach (var p in trainable) p.requires_grad_(true);
        var ids = tensor(new long[] { 1000, 5, 17, 300, 42, 8, 999, 77, 12, 400 }).view(2, 5);
        var positions = arange(5, ScalarType.Int64).unsqueeze(0).expand(2, 5);

        Tensor[] Grads(bool checkpointed)
        {
            using var scope = NewDisposeScope();
            foreach (var p in trainable) p.grad?.zero_();
            var hidden = model.model.Forward(ids, positions, null, null,
                checkpointed ? (layers, x, ctx) => CheckpointedLayers.Run(layers, x, ctx, seed: 1) : null);
            hidden.pow(2).mean().backward();
            return trainable.Select(p => p.grad!.clone().MoveToOuterDisposeScope()).ToArray();
        }

        var plain = Grads(false);
        var recomputed = Grads(true);
        Assert.All(plain, g => Assert.True(g.abs().sum().item<float>() > 0));
        for (int i = 0; i < plain.Length; i++)
            Assert.True(allclose(plain[i], recomputed[i], rtol: 1e-4, atol: 1e-6), $"parameter {i}");
    }
}
