using FinQLora.Data;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class DataCursorTests
{
    private static readonly BatchShape Shape = new(BatchSize: 3, PadId: 0, Packing: false, MaxLength: 0);

    /// <summary>Examples "0".."n-1" of different lengths (so the batcher's length sort has something to do).</summary>
    private static List<TokenizedExample> Examples(int n) =>
        Enumerable.Range(0, n).Select(i => new TokenizedExample("t", $"{i}", Enumerable.Repeat(5, 2 + i % 4).ToArray(),
            [-100, .. Enumerable.Repeat(5, 1 + i % 4)], false)).ToList();

    private static List<string> Ids(IEnumerable<TrainBatch> batches) => batches.SelectMany(b => b.Ids).ToList();

    [Fact]
    public void Each_epoch_visits_every_example_once_in_the_batchers_order_for_that_epoch()
    {
        var examples = Examples(7);
        var c = new DataCursor(examples, Shape, seed: 1);
        Assert.Equal(3, c.BatchesInEpoch);                       // 3 + 3 + 1 rows
        var epoch0 = c.Take(3);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => $"{i}"), Ids(epoch0).Order());
        Assert.Equal((0, 3L), (c.Epoch, c.Index));                // the epoch turns over at the next draw
        var next = c.Next();
        Assert.Equal((1, 1L), (c.Epoch, c.Index));
        var epoch1 = Batcher.Batches(examples, 3, 0, RngSeeds.ForEpoch(1, 1));
        Assert.Equal(epoch1[0].Ids, next.Ids);
        Assert.NotEqual(Ids(epoch0), Ids(epoch1));
    }

    [Fact]
    public void A_cursor_rebuilt_from_a_saved_position_continues_identically()
    {
        var examples = Examples(10);
        var straight = new DataCursor(examples, Shape, seed: 5);
        var batches = straight.Take(9);
        var first = new DataCursor(examples, Shape, seed: 5);
        first.Take(6);
        var resumed = new DataCursor(examples, Shape, seed: 5, first.Epoch, first.Index);
        Assert.Equal((1, 2L), (resumed.Epoch, resumed.Index));     // 4 batches an epoch
        for (int i = 6; i < 9; i++) Assert.Equal(batches[i].InputIds, resumed.Next().InputIds);
    }

    [Fact]
    public void The_fractional_epoch_counts_batches_of_the_current_epoch()
    {
        var c = new DataCursor(Examples(10), Shape, seed: 0);
        c.Next();
        Assert.Equal(0.25, c.FractionalEpoch, 12);
        c.Take(3);
        Assert.Equal(1.0, c.FractionalEpoch, 12);
    }
}
