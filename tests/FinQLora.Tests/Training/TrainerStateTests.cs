using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

public class TrainerStateTests
{
    [Fact]
    public void Round_trips_through_json_with_snake_case_keys()
    {
        var path = Path.Combine(Fixtures.TempDir(), "trainer_state.json");
        var s = new TrainerState { Stage = "stage1", Step = 120, TotalSteps = 500, DataEpoch = 1, DataIndex = 37, Seed = 42, NonFiniteSkips = 2, Tokens = 123456 };
        s.Save(path);
        var text = File.ReadAllText(path);
        Assert.Contains("\"data_epoch\": 1", text);
        Assert.Contains("\"non_finite_skips\": 2", text);
        Assert.Equal(s, TrainerState.Load(path));
    }

    [Fact]
    public void A_corrupt_state_file_is_a_clear_error()
    {
        var path = Path.Combine(Fixtures.TempDir(), "trainer_state.json");
        File.WriteAllText(path, "{\"step\": ");
        Assert.Contains("unreadable trainer state", Assert.Throws<FinQLoraException>(() => TrainerState.Load(path)).Message);
    }
}

[Collection(GlobalRngCollection.Name)]
public class RngSeedsTests
{
    [Fact]
    public void Step_seeds_depend_only_on_seed_and_step()
    {
        Assert.Equal(RngSeeds.ForStep(42, 7), RngSeeds.ForStep(42, 7));
        Assert.NotEqual(RngSeeds.ForStep(42, 7), RngSeeds.ForStep(42, 8));
        Assert.NotEqual(RngSeeds.ForStep(42, 7), RngSeeds.ForStep(43, 7));
        Assert.NotEqual(RngSeeds.ForMicroBatch(42, 7, 0), RngSeeds.ForMicroBatch(42, 7, 1));
        Assert.True(Enumerable.Range(0, 1000).All(i => RngSeeds.ForStep(i, i) >= 0));
    }

    [Fact]
    public void Epoch_seeds_differ_by_epoch_and_repeat_by_seed()
    {
        Assert.Equal(RngSeeds.ForEpoch(42, 0), RngSeeds.ForEpoch(42, 0));
        Assert.NotEqual(RngSeeds.ForEpoch(42, 0), RngSeeds.ForEpoch(42, 1));
        Assert.NotEqual(RngSeeds.ForEpoch(42, 0), RngSeeds.ForEpoch(43, 0));
        Assert.NotEqual(RngSeeds.ForEpoch(42, 3), RngSeeds.ForStep(42, 3));
    }

    [Fact]
    public void Torch_draws_repeat_after_reseeding_with_the_step_seed()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        TorchSharp.torch.random.manual_seed(RngSeeds.ForStep(42, 3));
        var first = TorchSharp.torch.nn.functional.dropout(TorchSharp.torch.ones(64), 0.5, training: true);
        TorchSharp.torch.rand(10);  // other draws in between
        TorchSharp.torch.random.manual_seed(RngSeeds.ForStep(42, 3));
        var again = TorchSharp.torch.nn.functional.dropout(TorchSharp.torch.ones(64), 0.5, training: true);
        Assert.True(first.equal(again).all().item<bool>());
    }
}

public class RunFolderTests
{
    [Fact]
    public void A_new_run_goes_into_a_missing_or_empty_folder_and_is_marked()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "run");
        RunFolder.Prepare(dir, RunFolder.Mode.New);
        Assert.True(RunFolder.IsRun(dir));
    }

    [Fact]
    public void A_non_empty_folder_is_refused_without_resume_or_overwrite()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "run");
        RunFolder.Prepare(dir, RunFolder.Mode.New);
        File.WriteAllText(Path.Combine(dir, "metrics.jsonl"), "{}\n");
        var e = Assert.Throws<FinQLoraException>(() => RunFolder.Prepare(dir, RunFolder.Mode.New));
        Assert.Contains("already holds a run: pass --resume to continue it, --overwrite to replace it", e.Message);
        RunFolder.Prepare(dir, RunFolder.Mode.Resume);
        Assert.True(File.Exists(Path.Combine(dir, "metrics.jsonl")));
    }

    [Fact]
    public void Overwrite_replaces_a_run_folder()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "run");
        RunFolder.Prepare(dir, RunFolder.Mode.New);
        File.WriteAllText(Path.Combine(dir, "metrics.jsonl"), "{}\n");
        RunFolder.Prepare(dir, RunFolder.Mode.Overwrite);
        Assert.False(File.Exists(Path.Combine(dir, "metrics.jsonl")));
        Assert.True(RunFolder.IsRun(dir));
    }

    [Fact]
    public void Overwrite_never_deletes_a_folder_finqlora_did_not_make()
    {
        var dir = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(dir, "thesis.tex"), "precious");
        var e = Assert.Throws<FinQLoraException>(() => RunFolder.Prepare(dir, RunFolder.Mode.Overwrite));
        Assert.Contains("not a FinQLora run folder", e.Message);
        Assert.True(File.Exists(Path.Combine(dir, "thesis.tex")));
    }

    [Fact]
    public void Resume_needs_an_existing_run() =>
        Assert.Contains("nothing to resume", Assert.Throws<FinQLoraException>(() => RunFolder.Prepare(Path.Combine(Fixtures.TempDir(), "none"), RunFolder.Mode.Resume)).Message);
}
