namespace FinQLora.Training;

/// <summary>
/// Reproducible randomness without saving generator states: every random use is seeded from
/// (training.seed, what, index) through SplitMix64. Micro-batch m of optimizer step k (m counted over the
/// step's global micro-batches, across GPUs) runs with <see cref="ForMicroBatch"/>(seed, k, m), which
/// <see cref="CausalLmLoss.Compute"/> hands to torch's generators (CPU and every CUDA one) before the forward,
/// so dropout masks depend only on (seed, step, micro-batch): a run resumed at step k draws exactly what the
/// uninterrupted run drew. Gradient checkpointing re-seeds to the same value before recomputing.
/// The batch order of epoch e is seeded with <see cref="ForEpoch"/>(seed, e), so the data position is just (epoch, index).
/// </summary>
public static class RngSeeds
{
    private const ulong StepStream = 0x5354455053ul;     // "STEPS"
    private const ulong EpochStream = 0xE90C;

    /// <summary>The seed for optimizer step <paramref name="step"/> (the trainer counts steps from 1); its micro-batches use <see cref="ForMicroBatch"/>.</summary>
    public static long ForStep(long seed, long step) => Derive(seed, StepStream, step);

    /// <summary>The seed for global micro-batch <paramref name="microBatch"/> of optimizer step <paramref name="step"/>.</summary>
    public static long ForMicroBatch(long seed, long step, int microBatch) => Derive(ForStep(seed, step), StepStream, microBatch);

    /// <summary>The seed of epoch <paramref name="epoch"/>'s batch order (<see cref="DataCursor"/>).</summary>
    public static long ForEpoch(long seed, int epoch) => Derive(seed, EpochStream, epoch);

    /// <summary>A non-negative 63-bit seed mixed from the three inputs.</summary>
    private static long Derive(long seed, ulong stream, long index)
    {
        ulong s = unchecked((ulong)seed ^ (stream * 0x9E3779B97F4A7C15ul));
        _ = SplitMix(ref s);
        s ^= unchecked((ulong)index);
        return (long)(SplitMix(ref s) >> 1);
    }

    private static ulong SplitMix(ref ulong state)
    {
        unchecked
        {
            state += 0x9E3779B97F4A7C15ul;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
            return z ^ (z >> 31);
        }
    }
}
