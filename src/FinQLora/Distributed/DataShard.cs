namespace FinQLora.Distributed;

/// <summary>
/// Which of the global batch's micro-batches a rank takes: the global order is the same on every
/// rank (same seed), and rank r takes items r, r + W, r + 2W, … With a global batch of B rows and W
/// ranks, each rank trains on B / W rows per step and the averaged gradient equals the single-process one.
/// </summary>
public static class DataShard
{
    public static IEnumerable<T> Take<T>(IEnumerable<T> globalOrder, int rank, int worldSize)
    {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), $"rank {rank} of {worldSize}");
        return globalOrder.Where((_, i) => i % worldSize == rank);
    }

    /// <summary>Rows per rank for a global batch; the global batch must divide evenly.</summary>
    public static int LocalBatch(int globalBatch, int worldSize) =>
        globalBatch % worldSize == 0 ? globalBatch / worldSize
            : throw new FinQLoraException($"the global batch ({globalBatch} rows) must be a multiple of the number of GPUs ({worldSize}); change training.batch_size or --gpus");
}
