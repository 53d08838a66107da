using FinQLora.Distributed;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Tests.Distributed;

public class DataParallelTests
{
    [Fact]
    public void Ranks_take_disjoint_interleaved_shards_that_cover_the_global_order()
    {
        var order = Enumerable.Range(0, 10).ToList();
        var shards = Enumerable.Range(0, 3).Select(r => DataShard.Take(order, r, 3).ToList()).ToList();
        Assert.Equal(new[] { 0, 3, 6, 9 }, shards[0]);
        Assert.Equal(new[] { 1, 4, 7 }, shards[1]);
        Assert.Equal(order, shards.SelectMany(s => s).Order());
        Assert.Equal(7, DataShard.GlobalIndex(local: 2, rank: 1, worldSize: 3));   // shards[1][2]
    }

    [Fact]
    public void Averaged_gradients_over_shards_equal_the_full_batch_gradient()
    {
        // A linear least-squares model: the full-batch mean loss gradient vs. 4 ranks × 2 rows, averaged.
        var g = manual_seed(3);
        var x = randn(8, 5);
        var y = randn(8, 1);
        var w0 = randn(5, 1);

        Tensor FullGradient()
        {
            var w = new Parameter(w0.clone());
            (x.matmul(w) - y).pow(2).mean().backward();
            return w.grad!.clone();
        }
        var expected = FullGradient();

        const int world = 4;
        var group = new InProcessGroup(world);
        var results = new Tensor[world];
        var threads = Enumerable.Range(0, world).Select(rank => new Thread(() =>
        {
            var comm = group.Rank(rank);
            var rows = DataShard.Take(Enumerable.Range(0, 8), rank, world).Select(i => (long)i).ToArray();
            var w = new Parameter(w0.clone());
            var xs = x.index_select(0, tensor(rows));
            var ys = y.index_select(0, tensor(rows));
            (xs.matmul(w) - ys).pow(2).mean().backward();
            new GradientAverager(comm, bucketBytes: 8).Average([w]);
            results[rank] = w.grad!.clone();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        foreach (var r in results) Assert.True(allclose(r, expected, rtol: 1e-5, atol: 1e-6));
    }

    [Fact]
    public void Broadcast_copies_the_roots_tensor_to_every_rank()
    {
        var group = new InProcessGroup(3);
        var values = new float[3];
        var threads = Enumerable.Range(0, 3).Select(rank => new Thread(() =>
        {
            var t = full(2, (float)(rank + 10));
            group.Rank(rank).Broadcast(t, root: 1);
            values[rank] = t[0].item<float>();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.All(values, v => Assert.Equal(11f, v));
    }
}
