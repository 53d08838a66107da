namespace FinQLora.Distributed;

/// <summary>
/// Which of an optimizer step's micro-batches a rank takes: the global order is the same on every rank (same
/// seed), and rank r takes items r, r + W, r + 2W, … Summed over a rank's share and averaged over the ranks,
/// the gradient equals the single-process one (the trainer scales each micro-batch's loss for it).
/// </summary>
public static class DataShard
{
    /// <summary>Rank <paramref name="rank"/>'s items of <paramref name="globalOrder"/>.</summary>
    public static IEnumerable<T> Take<T>(IEnumerable<T> globalOrder, int rank, int worldSize)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {worldSize}");
        return globalOrder.Where((_, i) => i % worldSize == rank);
    }

    /// <summary>The position in the global order of a rank's <paramref name="local"/>-th item.</summary>
    public static int GlobalIndex(int local, int rank, int worldSize) => local * worldSize + rank;
}
