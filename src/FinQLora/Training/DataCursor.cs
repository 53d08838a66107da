namespace FinQLora.Training;

/// <summary>
/// Walks the training examples in micro-batches, epoch after epoch, each epoch in its own shuffled
/// order (<see cref="RngSeeds.Shuffle"/>). Its whole state is (epoch, index into that epoch's order),
/// saved in <see cref="TrainerState.DataEpoch"/>/<see cref="TrainerState.DataIndex"/>, so a resumed run
/// reads exactly the batches the uninterrupted run would have. A micro-batch never spans two epochs:
/// the last one of an epoch may be short.
/// </summary>
public sealed class DataCursor
{
    private int[] _order;

    public int Count { get; }
    public int BatchSize { get; }
    public long Seed { get; }
    public int Epoch { get; private set; }
    public int Index { get; private set; }

    public DataCursor(int count, int batchSize, long seed, int epoch = 0, long index = 0)
    {
        if (count <= 0) throw new FinQLoraException("no training examples: check data.dir and data.tasks (and whether data.max_length drops every example)");
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize));
        if (index < 0 || index >= count) throw new ArgumentOutOfRangeException(nameof(index), index, $"data position must be in [0, {count})");
        Count = count;
        BatchSize = batchSize;
        Seed = seed;
        Epoch = epoch;
        Index = (int)index;
        _order = RngSeeds.Shuffle(count, seed, epoch);
    }

    /// <summary>Micro-batches in one epoch: ⌈count / batch_size⌉.</summary>
    public int MicroBatchesPerEpoch => (Count + BatchSize - 1) / BatchSize;

    /// <summary>Optimizer steps of a run: <paramref name="maxSteps"/> if set, else ⌈epochs × micro-batches per epoch / grad_accum⌉.</summary>
    public long TotalSteps(int epochs, int gradAccum, int? maxSteps) =>
        maxSteps ?? ((long)epochs * MicroBatchesPerEpoch + gradAccum - 1) / gradAccum;

    /// <summary>The position as a fractional epoch (metrics.jsonl's "epoch").</summary>
    public double FractionalEpoch => Epoch + (double)Index / Count;

    /// <summary>The example indices of the next micro-batch; advances the position (to the next epoch after the last batch).</summary>
    public int[] Next()
    {
        int n = Math.Min(BatchSize, Count - Index);
        var batch = _order.AsSpan(Index, n).ToArray();
        Index += n;
        if (Index == Count)
        {
            Epoch++;
            Index = 0;
            _order = RngSeeds.Shuffle(Count, Seed, Epoch);
        }
        return batch;
    }
}
