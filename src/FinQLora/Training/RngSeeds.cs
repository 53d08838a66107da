namespace FinQLora.Training;

/// <summary>
/// Reproducible randomness without saving generator states: every random use is seeded from
/// (training.seed, what, index) through SplitMix64. Before step k's forward/backward the trainer calls
/// <c>torch.random.manual_seed(RngSeeds.ForStep(seed, k))</c> (which seeds the CPU and every CUDA
/// generator), so dropout masks depend only on (seed, step): a run resumed at step k draws exactly what
/// the uninterrupted run drew. Gradient checkpointing re-seeds to the same value before recomputing.
/// The data order of epoch e is <see cref="Shuffle"/>(n, seed, e), so the data position is just (epoch, index).
/// </summary>
public static class RngSeeds
{
    private const ulong StepStream = 0x5354455053ul;     // "STEPS"
    private const ulong ShuffleStream = 0x5348554646ul;  // "SHUFF"

    /// <summary>The seed for optimizer step <paramref name="step"/> (0-based); micro-batch m of it uses <see cref="ForMicroBatch"/>.</summary>
    public static long ForStep(long seed, long step) => Derive(seed, StepStream, step);

    public static long ForMicroBatch(long seed, long step, int microBatch) => Derive(ForStep(seed, step), StepStream, microBatch);

    /// <summary>The shuffled order of <paramref name="count"/> examples in epoch <paramref name="epoch"/> (Fisher–Yates on a seeded System.Random-free generator).</summary>
    public static int[] Shuffle(int count, long seed, int epoch)
    {
        var order = Enumerable.Range(0, count).ToArray();
        ulong state = (ulong)Derive(seed, ShuffleStream, epoch);
        for (int i = count - 1; i > 0; i--)
        {
            state = SplitMix(ref state);
            int j = (int)(state % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    /// <summary>A non-negative 63-bit seed mixed from the three inputs.</summary>
    public static long Derive(long seed, ulong stream, long index)
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
