namespace FinQLora.Tests.Cli;

/// <summary>
/// A stage that cannot start leaves nothing behind (the same command can be run again), its problems are named at
/// once with the config keys and file, and a finished run leaves no lock file.
/// </summary>
public class CleanFailureCliTests
{
    private static (string Config, string Run) Stage(string data, string tasks, string device = "cpu", string training = "max_steps: 1, batch_size: 2, grad_accum: 1")
    {
        var dir = Fixtures.TempDir();
        var run = Path.Combine(dir, "run");
        var path = Path.Combine(dir, "stage.yaml");
        File.WriteAllText(path, $$"""
            stage: clean
            output: {{run}}
            model: { path: {{Fixtures.TinyModel}}, dtype: float32, quantize: none, device: {{device}} }
            lora: { r: 4, alpha: 8, dropout: 0.0, targets: [q_proj, v_proj] }
            data: { dir: {{data}}, tasks: [{{tasks}}], max_length: 128, truncation: left }
            training: { method: lora, {{training}}, warmup_steps: 0, warmup_ratio: null }
            checkpoint: { every_steps: 1, keep_last: 1 }
            logging: { every_steps: 1, eval_every_steps: 0, tensorboard: false }
            """);
        return (path, run);
    }

    private static string Samples => Path.Combine(AppContext.BaseDirectory, "samples");

    [Fact]
    public void Every_problem_before_the_start_is_named_at_once_and_nothing_is_written()
    {
        var data = Fixtures.TempDir();
        Directory.CreateDirectory(Path.Combine(data, "fpb"));
        File.Copy(Path.Combine(Samples, "fpb", "train.jsonl"), Path.Combine(data, "fpb", "train.jsonl"));
        bool cuda = TorchSharp.torch.cuda.is_available();
        var (config, run) = Stage(data, "fpb, ner", device: cuda ? "cpu" : "cuda");
        var r = CliProcess.Run("train", "--config", config);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains($"data.dir {data} (in {config}): no ner/train.jsonl (prepare it with `finqlora prepare-data --tasks ner --output {data}`)", r.Stderr);
        if (!cuda) Assert.Contains($"model.device (in {config}) cuda: no CUDA device is available to libtorch", r.Stderr);
        Assert.Contains("nothing was written", r.Stderr);
        Assert.False(Directory.Exists(run));
    }

    [Fact]
    public void A_setup_failure_leaves_no_run_folder_so_the_same_command_runs_again_and_a_finished_run_leaves_no_lock()
    {
        // samples/fpb/train.jsonl has 40 rows: a batch of 64 fails in setup, after the folder was made
        var (config, run) = Stage(Samples, "fpb", training: "max_steps: 1, batch_size: 64, grad_accum: 1");
        var r = CliProcess.Run("train", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("fewer than one optimizer step needs", r.Stderr);
        Assert.False(Directory.Exists(run));
        r = CliProcess.Run("train", "--config", config, "--set", "training.batch_size=2");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.True(File.Exists(Path.Combine(run, "adapter", "adapter_model.safetensors")));
        Assert.False(File.Exists(Path.Combine(run, ".finqlora-run.lock")));
    }

    [Fact]
    public void Overwrite_refuses_an_input_inside_the_folder_it_would_delete_and_the_earlier_run_is_kept()
    {
        var (config, run) = Stage(Samples, "fpb");
        var r = CliProcess.Run("train", "--config", config);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var adapter = Path.Combine(run, "adapter");
        var before = File.ReadAllBytes(Path.Combine(adapter, "adapter_model.safetensors"));
        r = CliProcess.Run("train", "--config", config, "--overwrite", "--init-adapter", adapter);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"init_adapter {adapter} (in {config}) lies inside output {run}, which --overwrite deletes first", r.Stderr);
        Assert.Single(r.Stderr.Trim().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(adapter, "adapter_model.safetensors")));
    }
}
