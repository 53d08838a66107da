using FinQLora.Config;
using FinQLora.IO;
using FinQLora.Runs;
using FinQLora.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

/// <summary>
/// The infrastructure pieces composed into a miniature training loop (a linear model with dropout):
/// step-seeded RNG, the data cursor's (epoch, index) position, AdamW, schedule, clipping, checkpoints. A run killed after
/// any step and resumed from its newest checkpoint ends with bit-identical weights.
/// </summary>
[Collection(GlobalRngCollection.Name)]
public class ExactResumeTests
{
    private const long Seed = 7;
    private const int Examples = 12, Batch = 2, Accum = 2, Epochs = 2;
    private const int StepsPerEpoch = Examples / (Batch * Accum);
    private const int Total = StepsPerEpoch * Epochs;

    /// <summary>Example i of the data, as the cursor sees it (its id names its row in <see cref="Data"/>).</summary>
    private static readonly List<FinQLora.Data.TokenizedExample> Rows =
        Enumerable.Range(0, Examples).Select(i => new FinQLora.Data.TokenizedExample("t", $"{i}", [1, 2], [-100, 2], false)).ToList();

    private static (Tensor X, Tensor Y) Data()
    {
        random.manual_seed(1);
        var x = randn(Examples, 4);
        return (x, x.matmul(tensor(new[] { 1f, -2f, 3f, 0.5f })).unsqueeze(1));  // [n, 1]
    }

    /// <summary>Trains until <paramref name="killAfter"/> steps (or the end); resumes from <paramref name="output"/>'s newest checkpoint when there is one.</summary>
    private static Tensor Run(string output, int? killAfter)
    {
        using var scope = NewDisposeScope();
        var (x, y) = Data();
        random.manual_seed(2);
        var weight = new Parameter(randn(1, 4) * 0.1f);
        var bias = new Parameter(zeros(1));
        (string, Parameter)[] named = [("w.weight", weight), ("w.bias", bias)];
        using var opt = new FinQLora.Training.AdamW(named, new FinQLora.Training.AdamW.Options(Lr: 0.05, WeightDecay: 0.01));
        var store = new CheckpointStore(Path.Combine(output, "checkpoints"), keepLast: 2);
        var state = new TrainerState { Seed = Seed, TotalSteps = Total };
        if (store.FindLatest() is { } ckpt)
        {
            using var f = SafeTensorsFile.Open(Path.Combine(ckpt.Dir, "weights.safetensors"));
            using (no_grad()) { weight.copy_(f.Load("w.weight")); bias.copy_(f.Load("w.bias")); }
            opt.Load(Path.Combine(ckpt.Dir, RunLayout.OptimizerFile));
            state = TrainerState.Load(Path.Combine(ckpt.Dir, RunLayout.TrainerStateFile));
        }
        var training = new TrainingSection { Lr = 0.05, Schedule = Schedule.Cosine, WarmupSteps = 2 };
        while (state.Step < Total)
        {
            using var stepScope = NewDisposeScope();
            random.manual_seed(RngSeeds.ForStep(Seed, state.Step));
            var cursor = new DataCursor(Rows, new BatchShape(Batch, PadId: 0, Packing: false, MaxLength: 0), Seed, state.DataEpoch, state.DataIndex);
            for (int m = 0; m < Accum; m++)
            {
                var ids = tensor(cursor.Next().Ids.Select(long.Parse).ToArray());
                var input = nn.functional.dropout(x.index_select(0, ids), 0.25, training: true);  // [b, 4]
                var loss = nn.functional.mse_loss(nn.functional.linear(input, weight, bias), y.index_select(0, ids)) / Accum;
                loss.backward();
            }
            double norm = nn.utils.clip_grad_norm_([weight, bias], 1.0);
            Assert.True(double.IsFinite(norm));
            opt.Lr = LrSchedule.At(training, state.Step, Total);
            opt.Step();
            opt.ZeroGrad();
            state = state with { Step = state.Step + 1, DataEpoch = cursor.Epoch, DataIndex = cursor.Index };
            store.Save(state.Step, dir =>
            {
                SafeTensorsWriter.Write(Path.Combine(dir, "weights.safetensors"), new Dictionary<string, Tensor> { ["w.weight"] = weight, ["w.bias"] = bias });
                opt.Save(Path.Combine(dir, RunLayout.OptimizerFile));
                state.Save(Path.Combine(dir, RunLayout.TrainerStateFile));
            });
            if (state.Step == killAfter) break;
        }
        return cat([weight.detach().flatten(), bias.detach()]).MoveToOuterDisposeScope();
    }

    [Fact]
    public void A_run_killed_after_any_step_and_resumed_ends_bit_identical()
    {
        using var straight = Run(Fixtures.TempDir(), killAfter: null);
        for (int kill = 1; kill < Total; kill++)
        {
            var output = Fixtures.TempDir();
            using var _ = Run(output, killAfter: kill);
            using var resumed = Run(output, killAfter: null);
            Assert.True(straight.equal(resumed).all().item<bool>(), $"killed after step {kill}");
        }
    }

    [Fact]
    public void A_corrupted_newest_checkpoint_falls_back_to_the_previous_one_and_still_ends_identical()
    {
        using var straight = Run(Fixtures.TempDir(), killAfter: null);
        var output = Fixtures.TempDir();
        using var _ = Run(output, killAfter: 4);
        var newest = Path.Combine(output, "checkpoints", CheckpointStore.NameOf(4), RunLayout.OptimizerFile);
        var bytes = File.ReadAllBytes(newest);
        bytes[^1] ^= 0xFF;  // a flipped bit in the optimizer state
        File.WriteAllBytes(newest, bytes);
        using var resumed = Run(output, killAfter: null);
        Assert.True(straight.equal(resumed).all().item<bool>());
    }
}
