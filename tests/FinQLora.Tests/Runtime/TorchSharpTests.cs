using TorchSharp;
using static TorchSharp.torch;

namespace FinQLora.Tests.Runtime;

public class TorchSharpTests
{
    [Fact]
    public void TorchSharp_initialises_and_computes_a_gradient()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 1, 2, 3 }).requires_grad_(true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(new float[] { 2, 4, 6 }, x.grad!.data<float>().ToArray());
    }
}
