using FinQLora.Config;

namespace FinQLora.Tests.Config;

public class ShippedConfigTests
{
    private static string C(string name) => RepoFiles.Path("configs", name);

    [Fact]
    public void Stage1_holds_the_papers_stage_one_settings()
    {
        var c = ConfigLoader.LoadTrain(C("stage1.yaml"));
        Assert.Equal("stage1", c.Stage);
        Assert.Equal(["finqa", "convfinqa", "acl18", "bigdata22", "cikm18"], c.Data.Tasks);
        Assert.Equal((16, 32.0, 0.05), (c.Lora.R, c.Lora.Alpha, c.Lora.Dropout));
        Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj"], FinQLora.Adapters.LoraSettings.ExpandTargets(c.Lora.Targets));
        Assert.Equal(2e-4, c.Training.Lr);
        Assert.Equal((2, 4), (c.Training.BatchSize, c.Training.GradAccum));
        Assert.Equal(3500, c.Data.MaxLength);
        Assert.Equal(2, c.Training.Epochs);
        Assert.Equal(TrainingMethod.Qlora, c.Training.Method);
        Assert.Equal(Quantize.Nf4, c.Model.Quantize);  // from the included model.yaml
        Assert.Equal("bfloat16", c.Model.Dtype);
    }

    [Fact]
    public void Stage2_holds_the_papers_stage_two_settings()
    {
        var c = ConfigLoader.LoadTrain(C("stage2.yaml"));
        Assert.Equal(["fpb", "fiqasa", "headlines", "ner"], c.Data.Tasks);
        Assert.Equal((32, 64.0, 0.1), (c.Lora.R, c.Lora.Alpha, c.Lora.Dropout));
        Assert.Equal(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], FinQLora.Adapters.LoraSettings.ExpandTargets(c.Lora.Targets));
        Assert.Equal((4, 2), (c.Training.BatchSize, c.Training.GradAccum));
        Assert.Equal(512, c.Data.MaxLength);
        Assert.Equal(3, c.Training.Epochs);
        Assert.Equal("runs/stage1/adapter", c.InitAdapter);
        Assert.Equal(InitAdapterMode.Stack, c.InitAdapterMode);
    }

    [Fact]
    public void Model_yaml_is_a_fragment_of_known_keys()
    {
        var c = ConfigLoader.LoadTrainUnvalidated(C("model.yaml"));
        Assert.Equal((Quantize.Nf4, "cuda"), (c.Model.Quantize, c.Model.Device));
    }

    [Fact]
    public void Curriculum_chains_stage_two_onto_stage_ones_final_adapter()
    {
        var c = ConfigLoader.LoadCurriculum(C("curriculum.yaml"));
        Assert.Equal(["stage1", "stage2"], c.Stages.Select(s => s.Stage));
        Assert.Equal(Path.Combine("runs/curriculum", "stage1"), c.Stages[0].Output);
        Assert.Equal(Path.Combine("runs/curriculum", "stage1", "adapter"), c.Stages[1].InitAdapter);
        Assert.Equal(32, c.Stages[1].Lora.R);
        Assert.True(c.Report);
    }

    [Fact]
    public void Quickstart_uses_the_tiny_model_the_samples_and_few_steps_on_cpu()
    {
        var c = ConfigLoader.LoadCurriculum(C("quickstart.yaml"));
        Assert.Equal(2, c.Stages.Count);
        Assert.All(c.Stages, s =>
        {
            Assert.Equal(("tiny", "cpu", "samples"), (s.Model.Path, s.Model.Device, s.Data.Dir));
            Assert.InRange(s.Training.MaxSteps!.Value, 1, 20);
        });
        Assert.Equal("samples", c.Evaluation.DataDir);
        Assert.Equal(Path.Combine("runs/quickstart", "stage1", "adapter"), c.Stages[1].InitAdapter);
        // the stage files' paper settings survive where the quickstart does not override them
        Assert.Equal(16, c.Stages[0].Lora.R);
        Assert.Equal(7, FinQLora.Adapters.LoraSettings.ExpandTargets(c.Stages[1].Lora.Targets).Count);
    }

    [Fact]
    public void Every_shipped_config_names_its_command_in_the_header()
    {
        foreach (var file in Directory.GetFiles(RepoFiles.Path("configs"), "*.yaml"))
        {
            var head = File.ReadLines(file).TakeWhile(l => l.StartsWith('#')).ToList();
            Assert.Contains(head, l => l.Contains("finqlora train --config") || l.Contains("finqlora curriculum --config"));
        }
    }

    [Fact]
    public void The_resolved_config_loads_back_to_the_same_config()
    {
        var dir = Fixtures.TempDir();
        var c = ConfigLoader.LoadTrain(C("stage2.yaml"), ["training.lr=3e-5", "lora.layers=[0, 2]", "data.system_prompt=You are: \"careful\""]);
        var path = Path.Combine(dir, "config.yaml");
        ConfigWriter.Write(path, c, "resolved");
        var back = ConfigLoader.LoadTrain(path);
        Assert.Equal(ConfigWriter.ToYaml(c), ConfigWriter.ToYaml(back));
        Assert.Equal(3e-5, back.Training.Lr);
        Assert.Equal([0, 2], back.Lora.Layers!);
        Assert.Equal("You are: \"careful\"", back.Data.SystemPrompt);
        Assert.StartsWith("# resolved\n", File.ReadAllText(path));
    }

    [Fact]
    public void The_docs_describe_every_config_key()
    {
        var docs = File.ReadAllText(RepoFiles.Path("docs", "TRAINING.md"));
        var missing = ConfigBinder.AllKeyPaths(typeof(TrainConfig)).Concat(ConfigBinder.AllKeyPaths(typeof(CurriculumConfig)))
            .Where(k => k != "stages").Distinct().Where(k => !docs.Contains($"`{k}`")).ToList();
        Assert.Empty(missing);
    }
}
