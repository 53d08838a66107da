namespace FinQLora.Tests.Cli;

/// <summary>
/// `train --resume` continues a run with the config it was started with: DIR/config.yaml when no
/// --config is given, and a --config (or --set) that resolves to something else is refused, since
/// the checkpoint's optimizer state, data order and schedule belong to the saved config.
/// </summary>
public class ResumeConfigCliTests
{
    private static (string Config, string Run) Stage()
    {
        var dir = Fixtures.TempDir();
        var run = Path.Combine(dir, "run");
        var path = Path.Combine(dir, "stage.yaml");
        File.WriteAllText(path, $$"""
            stage: resume
            output: {{run}}
            model: { path: {{Fixtures.TinyModel}}, dtype: float32, quantize: none, device: cpu }
            lora: { r: 4, alpha: 8, dropout: 0.0, targets: [q_proj, v_proj] }
            data: { dir: {{Path.Combine(AppContext.BaseDirectory, "samples")}}, tasks: [fpb], max_length: 128, truncation: left }
            training: { method: lora, max_steps: 4, batch_size: 2, grad_accum: 1, lr: 1.0e-3, warmup_steps: 0, warmup_ratio: null }
            checkpoint: { every_steps: 2, keep_last: 2 }
            logging: { every_steps: 1, eval_every_steps: 0, tensorboard: false }
            """);
        return (path, run);
    }

    [Fact]
    public void A_resume_with_a_different_config_is_refused_and_one_without_config_uses_the_saved_one()
    {
        var (config, run) = Stage();
        var first = CliProcess.Run("train", "--config", config, "--set", "training.lr=2e-3", "--max-steps", "2");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var saved = File.ReadAllText(Path.Combine(run, "config.yaml"));

        // the same file without the --set it was started with: another learning rate
        var changed = CliProcess.Run("train", "--config", config, "--resume");
        Assert.Equal(2, changed.ExitCode);
        Assert.Contains("was started with a different config", changed.Stderr);
        Assert.Contains("training.lr: 0.002 → 0.001", changed.Stderr);
        Assert.Contains($"finqlora train --resume {run}", changed.Stderr);
        Assert.Equal(saved, File.ReadAllText(Path.Combine(run, "config.yaml")));   // nothing overwritten

        // moved to another disk, and named relative to another working directory: still the same run
        var moved = Path.Combine(Path.GetDirectoryName(run)!, "moved");
        Directory.Move(run, moved);
        var resumed = CliProcess.RunIn(Path.GetDirectoryName(run)!, new Dictionary<string, string>(), "train", "--resume", "./moved");
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("resumed from", resumed.Stderr);
        Assert.Contains("(step 2 of 4)", resumed.Stderr);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(moved, "metrics.jsonl")).Count(l => l.Contains("\"loss\"")));
        Assert.True(File.Exists(Path.Combine(moved, "adapter", "adapter_model.safetensors")));
        Assert.Equal(saved, File.ReadAllText(Path.Combine(moved, "config.yaml")));
    }

    [Fact]
    public void Resume_without_a_config_needs_a_run_folder()
    {
        var r = CliProcess.Run("train", "--resume", Fixtures.TempDir());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("no config.yaml there", r.Stderr);
        var none = CliProcess.Run("train");
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("train needs --config FILE", none.Stderr);
    }
}
