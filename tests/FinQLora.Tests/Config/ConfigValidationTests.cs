using FinQLora.Config;

namespace FinQLora.Tests.Config;

public class ConfigValidationTests
{
    private const string Minimal = """
        stage: s1
        model: { path: tiny, dtype: float32, quantize: none, device: cpu }
        data: { tasks: [fpb] }
        training: { method: lora }
        """;

    private static string Write(string yaml, string name = "c.yaml", string? dir = null)
    {
        dir ??= Fixtures.TempDir();
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, yaml);
        return path;
    }

    private static string Error(string yaml, params string[] sets)
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadTrain(Write(yaml), sets));
        Assert.Equal(2, e.ExitCode);
        return e.Message;
    }

    [Fact]
    public void A_minimal_config_takes_the_documented_defaults()
    {
        var c = ConfigLoader.LoadTrain(Write(Minimal));
        Assert.Equal(16, c.Lora.R);
        Assert.Equal(Schedule.Cosine, c.Training.Schedule);
        Assert.Equal([0.9, 0.999], c.Training.Betas);
        Assert.Null(c.Training.MaxSteps);
        Assert.Equal(2.0, c.Lora.ToSettings().Scaling);
    }

    [Fact]
    public void Rank_zero_is_named_with_its_key_and_value() =>
        Assert.EndsWith("lora.r must be > 0, got 0", Error(Minimal, "lora.r=0"));

    [Fact]
    public void An_unknown_key_is_an_error_with_a_suggestion()
    {
        var m = Error(Minimal + "\nlora: { rr: 8 }\n");
        Assert.Contains("unknown key 'lora.rr' (did you mean 'lora.r'?)", m);
        Assert.Contains("c.yaml:5", m);
    }

    [Fact]
    public void An_unknown_top_level_key_lists_a_near_miss()
    {
        Assert.Contains("unknown key 'trainig' (did you mean 'training'?)", Error(Minimal + "\ntrainig: {}\n"));
    }

    [Fact]
    public void A_badly_typed_override_names_the_key_and_the_flag()
    {
        var m = Error(Minimal, "training.lr=abc");
        Assert.Contains("training.lr: expected a number, got 'abc' (--set training.lr)", m);
    }

    [Fact]
    public void A_bad_enum_value_lists_the_choices() =>
        Assert.Contains("training.schedule: expected one of constant, linear, cosine, got 'cosin'", Error(Minimal, "training.schedule=cosin"));

    [Fact]
    public void Overrides_set_nested_values_and_lists()
    {
        var c = ConfigLoader.LoadTrain(Write(Minimal), ["data.tasks=[fpb, ner]", "lora.targets=q_proj,v_proj", "training.max_steps=7", "logging.tensorboard=off"]);
        Assert.Equal(["fpb", "ner"], c.Data.Tasks);
        Assert.Equal(["q_proj", "v_proj"], c.Lora.Targets);
        Assert.Equal(7, c.Training.MaxSteps);
        Assert.False(c.Logging.Tensorboard);
        var back = ConfigLoader.LoadTrain(Write(Minimal), ["training.max_steps=3", "training.max_steps=null"]);
        Assert.Null(back.Training.MaxSteps);
    }

    [Fact]
    public void An_override_of_an_unknown_key_is_rejected() =>
        Assert.Contains("unknown key 'training.learning_rate'", Error(Minimal, "training.learning_rate=1"));

    [Fact]
    public void A_malformed_override_says_how_to_write_it()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigOverrides.Parse("training.lr"));
        Assert.Contains("expected key.sub=value", e.Message);
    }

    [Fact]
    public void All_problems_are_reported_at_once()
    {
        var m = Error(Minimal, "lora.r=0", "training.batch_size=0", "lora.dropout=1");
        Assert.Contains("3 problems", m);
        Assert.Contains("training.batch_size must be > 0, got 0", m);
        Assert.Contains("lora.dropout must be in [0, 1), got 1", m);
    }

    [Theory]
    [InlineData("training.method=qlora", "training.method is qlora but model.quantize is none: set model.quantize: nf4")]
    [InlineData("training.warmup_steps=10", null)]
    [InlineData("lora.targets=[q_proj, qproj]", "lora.targets: unknown projection 'qproj' (did you mean 'q_proj'?)")]
    [InlineData("data.tasks=[fpb, fiqa-sa]", "data.tasks: unknown task 'fiqa-sa' (did you mean 'fiqasa'?)")]
    [InlineData("data.system_prompt=You are: an analyst", null)]
    [InlineData("training.betas=[0.9]", "training.betas must be two numbers")]
    [InlineData("checkpoint.keep_last=0", "checkpoint.keep_last must be >= 1, got 0")]
    [InlineData("init_adapter=@stage1", "only works in a curriculum config")]
    [InlineData("stage=a b", "stage must be a name of letters")]
    [InlineData("model.device=gpu", "model.device must be cpu, cuda or cuda:N, got 'gpu'")]
    [InlineData("training.max_steps=0", "training.max_steps must be > 0")]
    public void Bad_values_are_named_with_the_fix(string set, string? expected)
    {
        if (expected is null) { ConfigLoader.LoadTrain(Write(Minimal), [set]); return; }
        Assert.Contains(expected, Error(Minimal, set));
    }

    [Fact]
    public void Task_metrics_during_training_and_the_best_checkpoint_are_validated()
    {
        Assert.Contains("checkpoint.select_best is 'fpb.f1' but logging.eval_tasks_every_steps is 0: the best checkpoint is chosen by the task metrics logged during training; set logging.eval_tasks_every_steps (e.g. 100) or checkpoint.select_best: null",
            Error(Minimal, "checkpoint.select_best=fpb.f1"));
        Assert.Contains("checkpoint.select_best: 'ner' is not one of the stage's data.tasks (fpb), whose metrics are the ones measured",
            Error(Minimal, "logging.eval_tasks_every_steps=5", "checkpoint.select_best=ner.entity_f1"));
        Assert.Contains("checkpoint.select_best: fpb has no metric 'avg_f1'; choose one of acc, f1, macro_f1, mcc", Error(Minimal, "logging.eval_tasks_every_steps=5", "checkpoint.select_best=fpb.avg_f1"));
        Assert.Contains("logging.eval_tasks_rows must be >= 1, got 0", Error(Minimal, "logging.eval_tasks_rows=0"));
        Assert.Contains("logging.eval_tasks_split must be train, valid or test, got 'dev'", Error(Minimal, "logging.eval_tasks_split=dev"));
        Assert.Contains("logging.eval_tasks_every_steps must be >= 0 (0 turns task metrics off), got -1", Error(Minimal, "logging.eval_tasks_every_steps=-1"));
        Assert.Contains("logging.eval_tasks_max_new_tokens must be >= 1, got 0", Error(Minimal, "logging.eval_tasks_max_new_tokens=0"));
        var ok = ConfigLoader.LoadTrain(Write(Minimal), ["logging.eval_tasks_every_steps=5", "checkpoint.select_best=mean"]);
        Assert.Equal(("mean", 5, 32, "valid", 64), (ok.Checkpoint.SelectBest, ok.Logging.EvalTasksEverySteps, ok.Logging.EvalTasksRows, ok.Logging.EvalTasksSplit, ok.Logging.EvalTasksMaxNewTokens));
    }

    [Fact]
    public void Warmup_steps_and_ratio_cannot_both_be_set() =>
        Assert.Contains("training.warmup_steps and training.warmup_ratio are both set", Error(Minimal, "training.warmup_steps=5", "training.warmup_ratio=0.1"));

    [Fact]
    public void Invalid_yaml_names_the_file_and_line()
    {
        var m = Error("stage: s1\nlora:\n  r: [1\n");
        Assert.Contains("c.yaml:", m);
        Assert.Contains("invalid YAML", m);
    }

    [Fact]
    public void A_duplicate_key_is_an_error() =>
        Assert.Contains("c.yaml:2:1: invalid YAML: Duplicate key", Error("stage: a\nstage: b\n"));

    [Fact]
    public void Includes_merge_with_the_including_file_winning()
    {
        var dir = Fixtures.TempDir();
        Write("model: { path: /m, dtype: bfloat16, quantize: nf4, device: cuda }\nlora: { r: 4, alpha: 8 }\n", "base.yaml", dir);
        var path = Write("include: base.yaml\nstage: s\ndata: { tasks: [ner] }\nlora: { r: 8 }\n", "top.yaml", dir);
        var c = ConfigLoader.LoadTrain(path);
        Assert.Equal((8, 8.0), (c.Lora.R, c.Lora.Alpha));
        Assert.Equal("/m", c.Model.Path);
    }

    [Fact]
    public void An_include_cycle_is_reported()
    {
        var dir = Fixtures.TempDir();
        Write("include: b.yaml\n", "a.yaml", dir);
        Write("include: a.yaml\n", "b.yaml", dir);
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadTrain(Path.Combine(dir, "a.yaml")));
        Assert.Contains("include cycle", e.Message);
    }

    [Fact]
    public void A_config_file_over_1_MiB_is_refused_by_its_size_before_it_is_read()
    {
        // 64 MiB, included from a small file: refused from its size alone (reading it would allocate 128 MiB of text)
        var dir = Fixtures.TempDir();
        Fixtures.OneLongLine(Path.Combine(dir, "huge.yaml"), 64L << 20, "stage: s1 # ");
        var path = Write("include: huge.yaml\n", "top.yaml", dir);
        var (e, allocated) = Fixtures.ThrowsAllocating(() => ConfigLoader.LoadTrain(path));
        Assert.Equal("huge.yaml: a config file must be under 1024 KiB, this one has 65536 KiB", e.Message);
        Assert.Equal(2, e.ExitCode);
        Assert.True(allocated < 8L << 20, $"{allocated:N0} bytes allocated");
    }

    [Fact]
    public void A_missing_file_is_named() =>
        Assert.Contains("config file not found: /nonexistent/x.yaml", Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadTrain("/nonexistent/x.yaml")).Message);

    [Fact]
    public void Warmup_resolves_from_steps_or_ratio()
    {
        Assert.Equal(3, new TrainingSection { WarmupRatio = 0.03 }.ResolveWarmupSteps(100));  // ⌈3.0⌉
        Assert.Equal(4, new TrainingSection { WarmupRatio = 0.03 }.ResolveWarmupSteps(101));  // ⌈3.03⌉
        Assert.Equal(7, new TrainingSection { WarmupSteps = 7 }.ResolveWarmupSteps(100));
        Assert.Equal(0, new TrainingSection().ResolveWarmupSteps(100));
    }
}
