using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Curriculum;
using FinQLora.Data;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Monitoring;
using FinQLora.Tests.Adapters;
using FinQLora.Tests.Cli;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

public class InitAdapterTests
{
    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    private static double[] Score(ModelBundle b) => Scorer.Score(b.Model, b.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();

    private static ModelBundle Load(string quantize = "none", string? dir = null) =>
        ModelBundle.Load(dir ?? Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, quantize));

    /// <summary>fpb from the samples, with a validation split (the samples have none) so the trainer logs a final val_loss.</summary>
    private static string DataDir()
    {
        var dir = Fixtures.TempDir();
        var samples = Path.Combine(AppContext.BaseDirectory, "samples", "fpb");
        Directory.CreateDirectory(Path.Combine(dir, "fpb"));
        File.Copy(Path.Combine(samples, "train.jsonl"), Path.Combine(dir, "fpb", "train.jsonl"));
        File.WriteAllLines(Path.Combine(dir, "fpb", "valid.jsonl"), File.ReadLines(Path.Combine(samples, "test.jsonl")).Take(6));
        return dir;
    }

    private static TrainConfig Stage(string name, string output, string data, int steps, string quantize = "none", string? init = null,
        InitAdapterMode mode = InitAdapterMode.Stack, int r = 4, string[]? targets = null)
    {
        var c = TrainerTests.SmallStage(output, steps);
        return c with
        {
            Stage = name, InitAdapter = init, InitAdapterMode = mode,
            Model = c.Model with { Quantize = quantize == "nf4" ? Quantize.Nf4 : Quantize.None },
            Lora = c.Lora with { R = r, Alpha = 2 * r, Targets = targets ?? ["all-linear"] },
            Data = c.Data with { Dir = data },
            Training = c.Training with { Method = quantize == "nf4" ? TrainingMethod.Qlora : TrainingMethod.Lora },
            Logging = c.Logging with { EvalEverySteps = 100 },
        };
    }

    /// <summary>The validation loss as the trainer computes it, on a model built another way.</summary>
    private static double ValidationLoss(ModelBundle b, TrainConfig cfg)
    {
        var valid = TrainingData.Load(cfg.Data, b.Tokenizer, cfg.Training.Seed, _ => { }).Valid;
        b.Model.eval();
        using var _ = no_grad();
        double sum = 0, tokens = 0;
        foreach (var batch in Batcher.Batches(valid.Take(64).ToList(), cfg.Training.BatchSize, b.Tokenizer.PadId, seed: 0))
        {
            using var scope = NewDisposeScope();
            var loss = CausalLmLoss.Compute(b.Model, tensor(batch.InputIds, [batch.Rows, batch.Length]), tensor(batch.Labels, [batch.Rows, batch.Length]),
                tensor(batch.Positions, [batch.Rows, batch.Length]), null, false, 0, cfg.Training.LossChunkSize);
            sum += loss.Sum.item<float>();
            tokens += loss.Tokens;
        }
        return sum / tokens;
    }

    [Fact]
    public void A_merged_dense_fp32_base_gives_the_logprobs_of_the_base_with_the_adapter_stacked()
    {
        using var merged = Load();
        using var stacked = Load();
        var m = InitAdapter.Apply(merged.Model, Fixtures.Parity("adapter-a"), InitAdapterMode.Merge, Fixtures.TinyModel, "init", _ => { });
        var s = InitAdapter.Apply(stacked.Model, Fixtures.Parity("adapter-a"), InitAdapterMode.Stack, Fixtures.TinyModel, "init", _ => { });
        Assert.Equal((InitAdapterMode.Merge, false, (string?)null), (m.Mode, m.Nf4, m.RequantizedFrom));
        Assert.Equal(InitAdapterMode.Stack, s.Mode);
        Assert.All(LoraInjector.Projections(merged.Model), p => Assert.Empty(p.Layer.Adapters));
        Assert.Equal(12, LoraInjector.Projections(stacked.Model).Count(p => p.Layer.Adapters.Count == 1));
        var a = Score(merged);
        var b = Score(stacked);
        using var plain = Load();
        var c = Score(plain);
        for (int i = 0; i < a.Length; i++)
        {
            Assert.InRange(a[i] - b[i], -1e-4, 1e-4);
            Assert.True(Math.Abs(a[i] - c[i]) > 1e-3, "the adapter must change the log-probs, or this test proves nothing");
        }
    }

    [Fact]
    public void A_merge_mode_stage_trains_writes_its_base_note_and_score_with_both_adapters_reproduces_it()
    {
        var root = Fixtures.TempDir();
        var data = DataDir();
        var s1 = Stage("stage1", Path.Combine(root, "stage1"), data, steps: 2, targets: ["q_proj", "k_proj", "v_proj", "o_proj"]);
        Trainer.Run(s1, new TrainOptions(), _ => { });
        var s1Adapter = Path.Combine(root, "stage1", "adapter");
        var s2 = Stage("stage2", Path.Combine(root, "stage2"), data, steps: 3, init: s1Adapter, mode: InitAdapterMode.Merge, r: 2);
        var log = new List<string>();
        Trainer.Run(s2, new TrainOptions(), log.Add);
        var s2Adapter = Path.Combine(root, "stage2", "adapter");
        Assert.Contains(log, l => l.Contains("[stage2] merged adapter") && l.Contains("into 12 base projections"));

        // the note beside the adapter says what it needs
        var note = JsonNode.Parse(File.ReadAllText(Path.Combine(s2Adapter, InitAdapter.NoteFile)))!;
        Assert.Equal("merge", note["init_adapter_mode"]!.GetValue<string>());
        Assert.Equal(Path.GetFullPath(s1Adapter), note["init_adapter"]!.GetValue<string>());
        Assert.Equal(Path.GetFullPath(Fixtures.TinyModel), note["base_model"]!.GetValue<string>());
        Assert.Equal("none", note["base_quantize"]!.GetValue<string>());
        var readme = File.ReadAllText(Path.Combine(s2Adapter, InitAdapter.ReadmeFile));
        Assert.Contains($"--adapter {Path.GetFullPath(s1Adapter)} --adapter {Path.GetFullPath(s2Adapter)}", readme);
        Assert.Contains("NOT the trained model", readme);
        Assert.False(File.Exists(Path.Combine(s1Adapter, InitAdapter.NoteFile)), "stage 1 had no init adapter");

        // the training-time model: base with stage 1 merged, stage 2 on top
        using var trained = Load();
        InitAdapter.Apply(trained.Model, s1Adapter, InitAdapterMode.Merge, Fixtures.TinyModel, "init", _ => { });
        PeftAdapterFiles.Load(s2Adapter, trained.Model, "s2");
        // what `score --adapter s1 --adapter s2` builds: both folders are called "adapter"
        using var stacked = Load();
        Assert.Equal(["adapter", "stage2-adapter"], PeftAdapterFiles.AttachAll(stacked.Model, [s1Adapter, s2Adapter]));
        var a = Score(trained);
        var b = Score(stacked);
        for (int i = 0; i < a.Length; i++) Assert.InRange(a[i] - b[i], -1e-4, 1e-4);

        // the trainer's final validation loss, from the stacked model
        var (_, val) = MetricsJsonl.Read(Path.Combine(root, "stage2", "metrics.jsonl"));
        using var plain = Load();
        Assert.True(Math.Abs(ValidationLoss(plain, s2) - val.Single().ValLoss) > 1e-3, "the adapters must change the loss, or this proves nothing");
        Assert.Equal(3, val.Single().Step);
        Assert.InRange(ValidationLoss(stacked, s2) - val.Single().ValLoss, -1e-4, 1e-4);

        // and the real CLI, on the same folders
        var input = Path.Combine(root, "pairs.jsonl");
        File.WriteAllLines(input, Pairs().Select(p => new JsonObject { ["prompt"] = p.Item1, ["completion"] = p.Item2 }.ToJsonString()));
        var cli = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", input, "--adapter", s1Adapter, "--adapter", s2Adapter);
        Assert.True(cli.ExitCode == 0, cli.Stderr);
        var fromCli = cli.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["logprob"]!.GetValue<double>()).ToArray();
        for (int i = 0; i < a.Length; i++) Assert.InRange(fromCli[i] - a[i], -1e-4, 1e-4);
    }

    [Fact]
    public void A_qlora_merge_stage_trains_on_the_merged_checkpoint_quantized_once()
    {
        var root = Fixtures.TempDir();
        var data = DataDir();
        var s2 = Stage("stage2", Path.Combine(root, "stage2"), data, steps: 1, quantize: "nf4", init: Fixtures.Parity("adapter-a"), mode: InitAdapterMode.Merge, r: 2);
        var log = new List<string>();
        Trainer.Run(s2, new TrainOptions(), log.Add);
        Assert.Contains(log, l => l.Contains("quantized once"));
        var s2Adapter = Path.Combine(root, "stage2", "adapter");
        var note = JsonNode.Parse(File.ReadAllText(Path.Combine(s2Adapter, InitAdapter.NoteFile)))!;
        Assert.Equal(("nf4", "checkpoint"), (note["base_quantize"]!.GetValue<string>(), note["requantized_from"]!.GetValue<string>()));
        var readme = File.ReadAllText(Path.Combine(s2Adapter, InitAdapter.ReadmeFile));
        Assert.Contains("--output MERGED --dtype float32", readme);
        Assert.Contains("--model MERGED --quantize nf4 --dtype float32", readme);

        // the README's recipe: merge the init adapter into a dense folder, load it quantized, add stage 2
        var merged = Path.Combine(root, "MERGED");
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a")], merged, ScalarType.Float32));
        using var rebuilt = Load("nf4", merged);
        PeftAdapterFiles.Load(s2Adapter, rebuilt.Model, "s2");
        var (_, val) = MetricsJsonl.Read(Path.Combine(root, "stage2", "metrics.jsonl"));
        Assert.InRange(ValidationLoss(rebuilt, s2) - val.Single().ValLoss, -1e-5, 1e-5);
    }

    [Fact]
    public void Merge_mode_with_an_adapter_of_other_shapes_stops_with_the_file_named()
    {
        var wrong = LoraMergeIntoModelTests.AdapterOfOtherShape();
        var cfg = Stage("stage2", Path.Combine(Fixtures.TempDir(), "run"), DataDir(), steps: 1, init: wrong, mode: InitAdapterMode.Merge);
        var e = Assert.Throws<FinQLoraException>(() => Trainer.Run(cfg, new TrainOptions(), _ => { })).Message;
        Assert.Contains(Path.Combine(wrong, PeftAdapterFiles.WeightsFile), e);
        Assert.Contains("pass the --model it was made for", e);
    }

    [Fact]
    public void A_curriculum_with_a_merge_stage_runs_and_evaluates_on_the_merged_base()
    {
        var root = Fixtures.TempDir();
        var data = DataDir();
        var s1 = Stage("stage1", Path.Combine(root, "stage1"), data, steps: 1, targets: ["q_proj", "v_proj"]);
        var s2 = Stage("stage2", Path.Combine(root, "stage2"), data, steps: 1, init: Path.Combine(root, "stage1", "adapter"), mode: InitAdapterMode.Merge, r: 2);
        var cfg = new CurriculumConfig
        {
            Output = root, Stages = [s1, s2], Report = false,
            Evaluation = new EvaluationSection { Tasks = ["fpb"], DataDir = Path.Combine(AppContext.BaseDirectory, "samples"), Limit = 1 },
        };
        var log = new List<string>();
        CurriculumRunner.Run(cfg, resume: false, overwrite: false, "test", log.Add);
        // once while training stage 2, once to build the evaluated model
        Assert.Equal(2, log.Count(l => l.Contains($"merged adapter {Path.Combine(root, "stage1", "adapter")} into 6 base projections")));
        Assert.Single(File.ReadLines(Path.Combine(root, "eval", "predictions.jsonl")));
        Assert.Contains(log, l => l.StartsWith("fpb: 1/1 rows, ", StringComparison.Ordinal) && l.Contains(" rows/s, ") && l.EndsWith("ETA 00:00:00", StringComparison.Ordinal));   // the evaluation's progress
        // a resume of the finished curriculum does not evaluate again
        var predictions = Path.Combine(root, "eval", "predictions.jsonl");
        var written = File.GetLastWriteTimeUtc(predictions);
        log.Clear();
        CurriculumRunner.Run(cfg, resume: true, overwrite: false, "test", log.Add);
        Assert.Contains($"evaluation: already finished ({Path.Combine(root, "eval", "metrics.json")}); not run again", log);
        Assert.DoesNotContain(log, l => l.Contains("rows/s"));
        Assert.Equal(written, File.GetLastWriteTimeUtc(predictions));
        // one interrupted before its metrics continues from its predictions: nothing is generated again
        File.Delete(Path.Combine(root, "eval", "metrics.json"));
        log.Clear();
        CurriculumRunner.Run(cfg, resume: true, overwrite: false, "test", log.Add);
        Assert.Contains("fpb: 1 rows (generate), 1 finished earlier", log);
        Assert.Contains("fpb: 1/1 rows (1 resumed), - rows/s, - tok/s, ETA 00:00:00", log);
        Assert.Single(File.ReadLines(predictions));
        Assert.True(File.Exists(Path.Combine(root, "eval", "metrics.json")));
    }

    [Fact]
    public void The_curriculum_evaluates_a_merge_stage_on_the_merged_base()
    {
        var dir = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(dir, "a.yaml"), "stage: a\nmodel: { quantize: none }\ndata: { tasks: [finqa] }\ntraining: { method: lora, max_steps: 10 }\n");
        File.WriteAllText(Path.Combine(dir, "b.yaml"), "stage: b\nmodel: { quantize: none }\ndata: { tasks: [fpb] }\ntraining: { method: lora, max_steps: 10 }\n");
        File.WriteAllText(Path.Combine(dir, "cur.yaml"), "output: out\nstages:\n  - a.yaml\n  - { include: b.yaml, init_adapter: \"@a\", init_adapter_mode: merge }\n");
        var merge = CurriculumRunner.AdapterChain(ConfigLoader.LoadCurriculum(Path.Combine(dir, "cur.yaml")));
        Assert.Equal([("init", Path.Combine("out", "a", "adapter"), InitAdapterMode.Merge), ("b", Path.Combine("out", "b", "adapter"), InitAdapterMode.Stack)], merge);
        var stack = CurriculumRunner.AdapterChain(ConfigLoader.LoadCurriculum(Path.Combine(dir, "cur.yaml"), ["stages.1.init_adapter_mode=stack"]));
        Assert.Equal([("a", Path.Combine("out", "a", "adapter"), InitAdapterMode.Stack), ("b", Path.Combine("out", "b", "adapter"), InitAdapterMode.Stack)], stack);
        // continue: stage b trained a's adapter further, so b's adapter alone is the model's
        var further = CurriculumRunner.AdapterChain(ConfigLoader.LoadCurriculum(Path.Combine(dir, "cur.yaml"), ["stages.1.init_adapter_mode=continue"]));
        Assert.Equal([("b", Path.Combine("out", "b", "adapter"), InitAdapterMode.Stack)], further);
    }
}
