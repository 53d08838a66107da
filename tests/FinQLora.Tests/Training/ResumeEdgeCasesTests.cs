using FinQLora.Config;
using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

/// <summary>Resuming from what older versions and early kills leave behind.</summary>
public class ResumeEdgeCasesTests
{
    /// <summary>TrainerTests' small stage on a float32 base (NF4 is much slower on a CPU).</summary>
    private static TrainConfig Stage(string output, int steps, int checkpointEvery = 0)
    {
        var cfg = TrainerTests.SmallStage(output, steps, checkpointEvery: checkpointEvery);
        return cfg with { Model = cfg.Model with { Quantize = Quantize.None } };
    }

    private static byte[] Adapter(string output) => File.ReadAllBytes(Path.Combine(output, "adapter", "adapter_model.safetensors"));

    [Fact]
    public void A_resume_whose_checkpoints_are_all_damaged_is_refused_and_deletes_nothing()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        Trainer.Run(Stage(output, steps: 4, checkpointEvery: 2), new TrainOptions(Hooks: TestHooks.StopAfter(4)), _ => { });
        var checkpoints = Path.Combine(output, "checkpoints");
        var store = new CheckpointStore(checkpoints, 2);
        Assert.Equal([2L, 4L], store.List().Select(c => c.Step));
        foreach (var c in store.List()) File.AppendAllText(Path.Combine(c.Dir, RunLayout.TrainerStateFile), " ");   // sizes no longer match

        var log = new List<string>();
        var e = Assert.Throws<FinQLoraException>(() => Trainer.Run(Stage(output, steps: 4, checkpointEvery: 2), new TrainOptions(RunFolder.Mode.Resume), log.Add));
        Assert.Contains("none of its 2 checkpoint(s) can be used", e.Message);
        Assert.Contains("--overwrite", e.Message);
        Assert.Equal(2, log.Count(l => l.Contains("is incomplete or damaged")));
        Assert.Equal([2L, 4L], store.List().Select(c => c.Step));   // still there, for the user to rescue
    }

    [Fact]
    public void A_second_process_on_a_run_folder_is_refused_while_the_first_holds_it()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        RunFolder.Prepare(output, RunFolder.Mode.New);
        using (RunLock.Acquire(output))
        {
            var e = Assert.Throws<FinQLoraException>(() => Trainer.Run(Stage(output, steps: 2), new TrainOptions(RunFolder.Mode.Resume), _ => { }));
            Assert.True(e.Message.StartsWith($"{output} is in use by another training process", StringComparison.Ordinal), e.Message);
            Assert.Equal(2, e.ExitCode);
        }
        Trainer.Run(Stage(output, steps: 2), new TrainOptions(RunFolder.Mode.Resume), _ => { });   // free again once released
        Assert.True(File.Exists(Path.Combine(output, "adapter", "adapter_model.safetensors")));
    }

    [Fact]
    public void A_run_killed_before_it_wrote_its_config_can_be_started_again_and_overwrite_leftovers_are_removed()
    {
        var root = Fixtures.TempDir();
        var output = Path.Combine(root, "run");
        RunFolder.Prepare(output, RunFolder.Mode.New);                       // only the marker: killed right after
        var trash = Path.Combine(root, ".run.deleted.tmp-4242-1");           // an --overwrite killed between move and delete
        Directory.CreateDirectory(Path.Combine(trash, "checkpoints"));
        RunFolder.Prepare(output, RunFolder.Mode.New);
        Assert.False(Directory.Exists(trash));
    }

    [Fact]
    public void A_run_killed_before_its_first_checkpoint_starts_again_on_resume()
    {
        var root = Fixtures.TempDir();
        var straight = Path.Combine(root, "straight");
        Trainer.Run(Stage(straight, steps: 3), new TrainOptions(), _ => { });

        // what a kill during the first steps leaves: the marker, the config, a few metrics lines, a temporary file
        var killed = Path.Combine(root, "killed");
        RunFolder.Prepare(killed, RunFolder.Mode.New);
        File.Copy(Path.Combine(straight, "metrics.jsonl"), Path.Combine(killed, "metrics.jsonl"));
        File.WriteAllText(Path.Combine(killed, ".config.yaml.tmp-4242-1"), "stage: te");
        var log = new List<string>();
        Trainer.Run(Stage(killed, steps: 3), new TrainOptions(RunFolder.Mode.Resume), log.Add);
        Assert.Contains(log, l => l.EndsWith("has no complete checkpoint yet; starting again from step 0", StringComparison.Ordinal));
        Assert.Equal(Adapter(straight), Adapter(killed));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(killed, "metrics.jsonl")).Length);
        Assert.False(File.Exists(Path.Combine(killed, ".config.yaml.tmp-4242-1")));
    }
}
