using FinQLora.Config;
using FinQLora.Data;
using FinQLora.Monitoring;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

/// <summary>Packed batches score every example as the same example alone: positions restart, attention stays inside it.</summary>
public class PackingTests
{
    private static List<TokenizedExample> Examples(ModelBundle bundle, int count)
    {
        var encoder = new PromptEncoder(bundle.Tokenizer, 256, TruncationMode.Left);
        var rows = DatasetPreparer.ReadPrepared(Path.Combine(AppContext.BaseDirectory, "samples"), Tasks.FlareTasks.Get("fpb"), "train")!;
        return rows.Take(count).Select(encoder.Encode).OfType<TokenizedExample>().ToList();
    }

    /// <summary>The summed loss over the positions <paramref name="keep"/> selects (every other label masked out).</summary>
    private static double LossOf(ModelBundle bundle, TrainBatch b, Func<int, bool> keep)
    {
        using var scope = NewDisposeScope();
        var labels = b.Labels.Select((l, i) => keep(i) ? l : -100).ToArray();
        var loss = CausalLmLoss.Compute(bundle.Model, tensor(b.InputIds, [b.Rows, b.Length]), tensor(labels, [b.Rows, b.Length]),
            tensor(b.Positions, [b.Rows, b.Length]), b.Segments is null ? null : tensor(b.Segments, [b.Rows, b.Length]), false, 0, 64);
        return loss.Sum.item<float>();
    }

    /// <summary>Which example a packed position belongs to: rows list their examples in order, segments number them.</summary>
    private static string? Owner(TrainBatch b, int i)
    {
        int row = i / b.Length;
        long seg = b.Segments![i];
        if (seg < 0) return null;
        int before = 0;
        for (int r = 0; r < row; r++) before += (int)(b.Segments.Skip(r * b.Length).Take(b.Length).Where(s => s >= 0).Max() + 1);
        return b.Ids[before + (int)seg];
    }

    [Fact]
    public void A_packed_batch_gives_each_example_the_loss_it_has_alone()
    {
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        var examples = Examples(bundle, 6);
        int maxLength = examples.Max(e => e.InputIds.Length) * 3;
        var packed = Batcher.Batches(examples, batchSize: 8, bundle.Tokenizer.PadId, seed: 3, packing: true, maxLength: maxLength);
        Assert.Single(packed);
        var batch = packed[0];
        Assert.True(batch.Rows < examples.Count, "some examples share a row");
        Assert.Equal(examples.Sum(e => e.Labels.Skip(1).Count(l => l != -100)), batch.LabelledTokens);
        foreach (var e in examples)
        {
            var alone = Batcher.Batches([e], 1, bundle.Tokenizer.PadId, seed: 0)[0];
            double expected = LossOf(bundle, alone, _ => true);
            double got = LossOf(bundle, batch, i => Owner(batch, i) == e.Id);
            Assert.True(Math.Abs(expected - got) <= 1e-4 * Math.Max(1, Math.Abs(expected)), $"{e.Id}: alone {expected}, packed {got}");
        }
        // positions restart at 0 where each example starts
        for (int i = 0; i < batch.InputIds.Length; i++)
            if (batch.Segments![i] >= 0 && (i % batch.Length == 0 || batch.Segments[i - 1] != batch.Segments[i]))
                Assert.Equal(0, batch.Positions[i]);
    }

    [Fact]
    public void An_epoch_of_packed_data_is_its_packed_batches_and_the_schedule_and_epoch_follow_them()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        var small = TrainerTests.SmallStage(output, steps: 1);
        var cfg = small with
        {
            Data = small.Data with { Packing = true, MaxLength = 512 },
            Training = small.Training with { MaxSteps = null, Epochs = 1, BatchSize = 2, GradAccum = 1, Schedule = Schedule.Cosine },
        };
        // what the trainer will see: the stage's tokenized examples, packed by the Batcher
        using (var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "none")))
        {
            var data = TrainingData.Load(cfg.Data, bundle.Tokenizer, cfg.Training.Seed, _ => { });
            int packedBatches = Batcher.Batches(data.Train, 2, bundle.Tokenizer.PadId, 0, packing: true, maxLength: 512).Count;
            int unpackedBatches = (data.Train.Count + 1) / 2;
            Assert.True(packedBatches < unpackedBatches, $"packing fits several examples in a row ({packedBatches} vs {unpackedBatches} batches)");
            Trainer.Run(cfg, new TrainOptions(), _ => { });
            var (train, _) = MetricsJsonl.Read(Path.Combine(output, "metrics.jsonl"));
            Assert.Equal(packedBatches, train.Count);                     // one epoch = the packed batches, one per step
            Assert.Equal(1.0, train[^1].Epoch, 9);                         // the last step ends epoch 1
            Assert.Equal(0.5, train[packedBatches / 2 - 1].Epoch, 1);
            Assert.Equal(LrSchedule.At(cfg.Training, packedBatches - 1, packedBatches), train[^1].Lr, 12);   // the cosine spans the packed steps
        }
    }
}
