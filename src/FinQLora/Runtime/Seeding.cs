using static TorchSharp.torch;

namespace FinQLora.Runtime;

/// <summary>
/// Seeds libtorch's default generators. TorchSharp's random.manual_seed reaches only the CPU generator,
/// so CUDA draws (random weights, dropout masks on the GPU) are seeded here explicitly as well;
/// without it two processes draw different random weights and dropout masks on the GPU.
/// </summary>
public static class Seeding
{
    public static void SeedAll(long seed)
    {
        random.manual_seed(seed);
        if (cuda.is_available()) cuda.manual_seed_all(seed);
    }
}
