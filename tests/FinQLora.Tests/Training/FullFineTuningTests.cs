using FinQLora.Config;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Runs;
using FinQLora.Tests.Cli;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

/// <summary>training.method: full writes OUTPUT/model/, a Hugging Face folder that FinQLora's commands load.</summary>
public class FullFineTuningTests
{
    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    [Fact]
    public void Full_fine_tuning_writes_a_model_folder_that_loads_as_the_trained_model()
    {
        var output = Path.Combine(Fixtures.TempDir(), "run");
        var cfg = TrainerTests.SmallStage(output, steps: 3) with
        {
            Model = new ModelSection { Path = Fixtures.TinyModel, Dtype = "float32", Device = "cpu", Quantize = Quantize.None },
            Training = TrainerTests.SmallStage(output, 3).Training with { Method = TrainingMethod.Full, Lr = 1e-3 },
        };
        var log = new List<string>();
        var result = Trainer.Run(cfg, new TrainOptions(), log.Add);

        var model = Path.Combine(output, "model");
        Assert.Equal(Path.GetFullPath(model), Path.GetFullPath(result.FinalDir));
        Assert.Contains(log, l => l.Contains(model, StringComparison.Ordinal));
        Assert.False(Directory.Exists(Path.Combine(output, "adapter")));
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja" })
            Assert.True(File.Exists(Path.Combine(model, f)), f);
        using (var weights = ModelWeights.Open(model))
        using (var original = ModelWeights.Open(Fixtures.TinyModel))
        {
            Assert.Equal(original.Names.Order(StringComparer.Ordinal), weights.Names.Order(StringComparer.Ordinal));
            Assert.All(weights.Names, n => Assert.Equal(original.Info(n).DType, weights.Info(n).DType));   // the base's dtype
            // the trained weights, not the base's: the last checkpoint's trainable tensors, under Hugging Face names
            using var trained = SafeTensorsFile.Open(Path.Combine(new CheckpointStore(Path.Combine(output, "checkpoints"), 2).FindLatest(_ => { })!.Dir, RunLayout.TrainableFile));
            foreach (var name in trained.Names)
                Assert.True(trained.Load(name).equal(weights.Load(name.Replace(".base_layer.", "."))).all().item<bool>(), name);
            Assert.False(weights.Load("model.norm.weight").equal(original.Load("model.norm.weight")).all().item<bool>());
        }

        // the folder loads (library and the real score command) and scores differently from the base
        using var bundle = ModelBundle.Load(model, new ModelLoadOptions(CPU, ScalarType.Float32, "none"));
        var scores = Scorer.Score(bundle.Model, bundle.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();
        var baseScores = Fixtures.Expected["scores"]!.AsArray().Select(s => s!["logprob"]!.GetValue<double>()).ToArray();
        Assert.NotEqual(baseScores[0], scores[0], 3);
        var input = Path.Combine(Fixtures.TempDir(), "pairs.jsonl");
        File.WriteAllLines(input, Pairs().Select(p => System.Text.Json.JsonSerializer.Serialize(new { prompt = p.Item1, completion = p.Item2 })));
        var r = CliProcess.Run("score", "--model", model, "--input", input);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }
}
