using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

/// <summary>A fact that runs only where TorchSharp sees a CUDA device (skipped, with the reason, elsewhere).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!cuda.is_available()) Skip = "needs a CUDA device";
    }
}
