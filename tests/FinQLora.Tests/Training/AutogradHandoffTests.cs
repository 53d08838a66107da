using FinQLora.Adapters;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Runtime;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

/// <summary>
/// libtorch runs custom backward functions for CUDA tensors on its own device thread, where no
/// dispose scope of the caller is open: any tensor wrapper a backward leaves behind lives until the
/// GC finalizes it (on the GPU: gigabytes per step). These tests run whole QLoRA steps on a thread
/// with no dispose scope at all, as that device thread is, and count the wrappers left alive.
/// </summary>
public class AutogradHandoffTests
{
    [Theory]
    [InlineData("none")]
    [InlineData("nf4")]
    public void A_checkpointed_step_leaves_no_tensor_alive_outside_dispose_scopes(string quantize)
    {
        long leaked = -1;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var model = LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, quantize));
                LoraInjector.Inject(model, new LoraSettings(4, 8, 0.0, ["q_proj", "v_proj", "down_proj"]), "default", trainable: true, seed: 1);
                using var ids = tensor(new long[] { 1000, 5, 17, 300, 42, 8, 999, 77, 12, 400 }).view(2, 5);
                void Step()
                {
                    var loss = CausalLmLoss.Compute(model, ids, ids, null, null, gradientCheckpointing: true, seed: 0, chunk: 3);
                    loss.Sum.backward();
                    loss.Sum.Dispose();
                    AutogradHandoff.Release();
                }
                Step();   // the first step creates the parameters' .grad tensors
                long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
                Step();
                Step();
                leaked = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount - before;
            }
            catch (Exception e) { error = e; }
        });
        thread.Start();
        thread.Join();
        Assert.Null(error);
        Assert.Equal(0, leaked);
    }
}
