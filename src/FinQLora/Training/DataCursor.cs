using FinQLora.Data;

namespace FinQLora.Training;

/// <summary>How the examples are cut into micro-batches: rows per batch, the pad id, and packing up to max_length.</summary>
public sealed record BatchShape(int BatchSize, int PadId, bool Packing, int MaxLength);

/// <summary>
/// Walks the training examples in micro-batches, epoch after epoch: epoch e's batches are
/// <see cref="Batcher.Batches"/> seeded with <see cref="RngSeeds.ForEpoch"/>(seed, e). Its whole state is (epoch, index
/// of the next batch in that epoch), saved as <see cref="TrainerState.DataEpoch"/>/<see cref="TrainerState.DataIndex"/>,
/// so a resumed run reads exactly the batches the uninterrupted run would have. The epoch turns over when the next
/// batch is drawn: after an epoch's last batch the position is (e, batches in e). A micro-batch never spans two epochs.
/// </summary>
public sealed class DataCursor
{
    private readonly IReadOnlyList<TokenizedExample> _examples;
    private readonly BatchShape _shape;
    private readonly long _seed;
    private List<TrainBatch> _batches;

    public int Epoch { get; private set; }
    public long Index { get; private set; }

    public DataCursor(IReadOnlyList<TokenizedExample> examples, BatchShape shape, long seed, int epoch = 0, long index = 0)
    {
        (_examples, _shape, _seed) = (examples, shape, seed);
        (Epoch, Index) = (epoch, index);
        _batches = EpochBatches(epoch);
    }

    /// <summary>Micro-batches in the current epoch.</summary>
    public int BatchesInEpoch => _batches.Count;

    /// <summary>Rows in the current epoch's batches: the examples, or with packing the packed rows (their number does not depend on the epoch).</summary>
    public int RowsInEpoch => _batches.Sum(b => b.Rows);

    /// <summary>The position as a fractional epoch (metrics.jsonl's "epoch").</summary>
    public double FractionalEpoch => Epoch + Index / (double)Math.Max(1, _batches.Count);

    /// <summary>The next micro-batch; advances the position (into the next epoch when this one is used up).</summary>
    public TrainBatch Next()
    {
        if (Index >= _batches.Count)
        {
            Epoch++;
            Index = 0;
            _batches = EpochBatches(Epoch);
        }
        return _batches[(int)Index++];
    }

    /// <summary>The next <paramref name="count"/> micro-batches, in order.</summary>
    public IReadOnlyList<TrainBatch> Take(int count)
    {
        var taken = new TrainBatch[count];
        for (int i = 0; i < count; i++) taken[i] = Next();
        return taken;
    }

    private List<TrainBatch> EpochBatches(int epoch) =>
        Batcher.Batches(_examples, _shape.BatchSize, _shape.PadId, RngSeeds.ForEpoch(_seed, epoch), _shape.Packing, _shape.MaxLength);
}
