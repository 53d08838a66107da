using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class DataCursorTests
{
    [Fact]
    public void Each_epoch_visits_every_example_once_with_a_short_last_batch()
    {
        var c = new DataCursor(count: 7, batchSize: 3, seed: 1);
        var epoch0 = new[] { c.Next(), c.Next(), c.Next() };
        Assert.Equal([3, 3, 1], epoch0.Select(b => b.Length));
        Assert.Equal(Enumerable.Range(0, 7), epoch0.SelectMany(b => b).Order());
        Assert.Equal((1, 0), (c.Epoch, c.Index));
        Assert.Equal(RngSeeds.Shuffle(7, 1, 1).Take(3), c.Next());
    }

    [Fact]
    public void A_cursor_rebuilt_from_a_saved_position_continues_identically()
    {
        var straight = new DataCursor(10, 4, seed: 5);
        var batches = Enumerable.Range(0, 9).Select(_ => straight.Next()).ToList();
        var first = new DataCursor(10, 4, seed: 5);
        for (int i = 0; i < 4; i++) first.Next();
        var resumed = new DataCursor(10, 4, seed: 5, first.Epoch, first.Index);
        Assert.Equal((1, 4), (resumed.Epoch, resumed.Index));
        for (int i = 4; i < 9; i++) Assert.Equal(batches[i], resumed.Next());
    }

    [Fact]
    public void Steps_and_fractional_epochs_follow_the_batch_arithmetic()
    {
        var c = new DataCursor(10, 4, seed: 0);
        Assert.Equal(3, c.MicroBatchesPerEpoch);              // 4 + 4 + 2
        Assert.Equal(3, c.TotalSteps(epochs: 2, gradAccum: 2, maxSteps: null));  // ⌈6 / 2⌉
        Assert.Equal(5, c.TotalSteps(epochs: 3, gradAccum: 2, maxSteps: null));  // ⌈9 / 2⌉
        Assert.Equal(7, c.TotalSteps(epochs: 3, gradAccum: 2, maxSteps: 7));
        c.Next();
        Assert.Equal(0.4, c.FractionalEpoch, 12);
    }

    [Fact]
    public void No_examples_is_a_clear_error() =>
        Assert.Contains("no training examples", Assert.Throws<FinQLoraException>(() => new DataCursor(0, 2, 1)).Message);
}
