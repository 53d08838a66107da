using System.Text.Json.Nodes;
using FinQLora.Config;
using FinQLora.Data;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Monitoring;
using FinQLora.Runs;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

/// <summary>
/// init_adapter_mode: continue, step for step against PEFT + torch.optim.AdamW + clip_grad_norm_
/// (tests/fixtures/training-parity, made by make_fixture.py beside it: a tiny fp32 checkpoint made by transformers,
/// an adapter made by PEFT with nonzero B, a few FinQA rows). Everything (rows, adapter, optimizer settings, steps)
/// is read from the fixture. Per step: the loss to 2e-4 and the pre-clip gradient norm to 1e-3 relative; the final
/// adapter: its distance from PEFT's at most 1e-3 of PEFT's update.
/// </summary>
public class PeftTrainingParityTests
{
    private static string Fx(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "fixtures", "training-parity", "out", .. parts]);

    private static readonly Lazy<JsonObject> _expected = new(() => JsonNode.Parse(File.ReadAllText(Fx("expected.json")))!.AsObject());
    private static JsonObject Expected => _expected.Value;

    private static JsonArray Rows => Expected["rows"]!.AsArray();

    [Fact]
    public void Rows_are_rendered_as_training_renders_them()
    {
        using var bundle = ModelBundle.Load(Fx("model"), new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        var encoder = new PromptEncoder(bundle.Tokenizer, 1 << 16);
        foreach (var row in Rows)
        {
            var e = encoder.Encode(new FlareRow
            {
                Id = row!["id"]!.GetValue<string>(), Task = Expected["task"]!.GetValue<string>(), Split = "train",
                Query = row["query"]!.GetValue<string>(), Answer = row["answer"]!.GetValue<string>(),
            })!;
            Assert.Equal(Fixtures.Ints(row["input_ids"]), e.InputIds);
            Assert.Equal(Fixtures.Ints(row["labels"]), e.Labels);
        }
    }

    [Theory]
    [InlineData("dense", 1, false)]
    [InlineData("accum2", 2, false)]
    [InlineData("nf4", 1, true)]
    public void Training_steps_equal_PEFT_with_AdamW_and_clipping(string variant, int gradAccum, bool nf4)
    {
        var reference = Expected["variants"]![variant]?.AsObject();
        Assert.True(reference is not null, $"the fixture has no '{variant}' variant ({Expected["variants"]![variant + "_error"]}); rerun make_fixture.py with bitsandbytes");
        var s = Expected["settings"]!.AsObject();
        int steps = s["steps"]!.GetValue<int>(), rows = Rows.Count;
        Assert.True(rows % gradAccum == 0, "the fixture's rows split evenly into the micro-batches");

        var root = Fixtures.TempDir();
        var output = Path.Combine(root, "run");
        var cfg = Config(root, output, steps, rows / gradAccum, gradAccum, nf4);
        Trainer.Run(cfg, new TrainOptions(), _ => { });
        Check(reference, output, variant, steps, cfg.Training.MaxGradNorm);
    }

    /// <summary>A continue run stopped after step 1 and resumed ends with the same adapter bytes as one run straight through.</summary>
    [Fact]
    public void A_continued_adapter_run_resumes_exactly()
    {
        int steps = Expected["settings"]!["steps"]!.GetValue<int>();
        var root = Fixtures.TempDir();
        var straight = Path.Combine(root, "straight");
        Trainer.Run(Config(root, straight, steps, Rows.Count, 1, false), new TrainOptions(), _ => { });
        var stopped = Path.Combine(root, "stopped");
        var cfg = Config(root, stopped, steps, Rows.Count, 1, false);
        Assert.True(Trainer.Run(cfg, new TrainOptions(Hooks: TestHooks.StopAfter(1)), _ => { }).Stopped);
        Trainer.Run(cfg, new TrainOptions(RunFolder.Mode.Resume), _ => { });
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight, "adapter", "adapter_model.safetensors")), File.ReadAllBytes(Path.Combine(stopped, "adapter", "adapter_model.safetensors")));
        // the saved config records the adapter's shape
        Assert.Contains($"r: {PeftAdapterFilesSettings().R}", File.ReadAllText(Path.Combine(stopped, "config.yaml")));
    }

    private static FinQLora.Adapters.LoraSettings PeftAdapterFilesSettings() => FinQLora.Adapters.PeftAdapterFiles.ReadSettings(Fx("adapter"));

    private static TrainConfig Config(string root, string output, int steps, int batchSize, int gradAccum, bool nf4)
    {
        var s = Expected["settings"]!.AsObject();
        var data = Path.Combine(root, "data");
        var task = Expected["task"]!.GetValue<string>();
        Directory.CreateDirectory(Path.Combine(data, task));
        File.Copy(Fx("rows.jsonl"), Path.Combine(data, task, "train.jsonl"), overwrite: true);
        return new TrainConfig
        {
            Stage = "parity", Output = output, InitAdapter = Fx("adapter"), InitAdapterMode = InitAdapterMode.Continue,
            Model = new ModelSection { Path = Fx("model"), Dtype = "float32", Device = "cpu", Quantize = nf4 ? Quantize.Nf4 : Quantize.None },
            Lora = new LoraSection { Dropout = 0 },
            Data = new DataSection { Dir = data, Tasks = [task], MaxLength = Rows.Max(r => r!["input_ids"]!.AsArray().Count) },
            Training = new TrainingSection
            {
                Method = nf4 ? TrainingMethod.Qlora : TrainingMethod.Lora, MaxSteps = steps, BatchSize = batchSize, GradAccum = gradAccum,
                Lr = s["lr"]!.GetValue<double>(), Betas = s["betas"]!.AsArray().Select(b => b!.GetValue<double>()).ToList(), Eps = s["eps"]!.GetValue<double>(),
                WeightDecay = s["weight_decay"]!.GetValue<double>(), MaxGradNorm = s["max_grad_norm"]!.GetValue<double>(),
                Schedule = Schedule.Constant, WarmupSteps = 0, GradCheckpointing = false, Seed = 11,
            },
            Checkpoint = new CheckpointSection { EverySteps = 0, KeepLast = 1 },
            Logging = new LoggingSection { EverySteps = 1, EvalEverySteps = 0, Tensorboard = false },
        };
    }

    private static void Check(JsonObject reference, string output, string variant, int steps, double maxGradNorm)
    {

        var (train, _) = MetricsJsonl.Read(Path.Combine(output, "metrics.jsonl"));
        var loss = reference["loss"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var norm = reference["grad_norm"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        Assert.Equal(steps, train.Count);
        for (int i = 0; i < steps; i++)
        {
            Assert.True(Math.Abs(train[i].Loss - loss[i]) <= 2e-4, $"step {i + 1}: loss {train[i].Loss} vs PEFT {loss[i]}");
            Assert.True(Math.Abs(train[i].GradNorm - norm[i]) <= 1e-3 * norm[i], $"step {i + 1}: grad norm {train[i].GradNorm} vs PEFT {norm[i]}");
        }
        Assert.True(norm[0] > maxGradNorm, "clipping is active in the fixture");

        using var init = SafeTensorsFile.Open(Fx("adapter", "adapter_model.safetensors"));
        using var peft = SafeTensorsFile.Open(Fx("adapter-" + variant, "adapter_model.safetensors"));
        using var ours = SafeTensorsFile.Open(Path.Combine(output, "adapter", "adapter_model.safetensors"));
        Assert.Equal(peft.Names.Order(StringComparer.Ordinal), ours.Names.Order(StringComparer.Ordinal));
        double error = 0, update = 0;
        foreach (var name in peft.Names)
        {
            using var scope = NewDisposeScope();
            var p = peft.Load(name, CPU, ScalarType.Float64);
            error += ours.Load(name, CPU, ScalarType.Float64).sub(p).pow(2).sum().item<double>();
            update += p.sub(init.Load(name, CPU, ScalarType.Float64)).pow(2).sum().item<double>();
        }
        Assert.True(Math.Sqrt(error) <= 1e-3 * Math.Sqrt(update), $"final adapter: |ours - PEFT| = {Math.Sqrt(error):E3}, PEFT's update {Math.Sqrt(update):E3}");
    }
}
