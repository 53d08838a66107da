using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

public class ChunkedCrossEntropyTests
{
    [Theory]
    [InlineData(3)]
    [InlineData(1024)]
    public void Loss_and_gradients_equal_plain_cross_entropy(int chunk)
    {
        using var scope = NewDisposeScope();
        var gen = manual_seed(7);
        var hidden = randn(10, 16, dtype: ScalarType.Float64).requires_grad_(true);
        var weight = randn(50, 16, dtype: ScalarType.Float64).requires_grad_(true);
        var labels = randint(0, 50, [10], dtype: ScalarType.Int64);

        var ours = ChunkedCrossEntropy.Sum(hidden, weight, labels, chunk);
        ours.backward();
        var gh = hidden.grad!.clone(); var gw = weight.grad!.clone();
        hidden.grad!.zero_(); weight.grad!.zero_();

        var reference = nn.functional.cross_entropy(nn.functional.linear(hidden, weight), labels, reduction: nn.Reduction.Sum);
        reference.backward();
        Assert.Equal(reference.item<double>(), ours.to(ScalarType.Float64).item<double>(), 4);
        Assert.True(allclose(gh, hidden.grad!, rtol: 1e-4, atol: 1e-5));
        Assert.True(allclose(gw, weight.grad!, rtol: 1e-4, atol: 1e-5));
    }
}
