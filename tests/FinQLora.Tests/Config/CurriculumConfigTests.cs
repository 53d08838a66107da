using FinQLora.Config;

namespace FinQLora.Tests.Config;

public class CurriculumConfigTests
{
    private static string Setup(string curriculum)
    {
        var dir = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(dir, "a.yaml"), "stage: a\nmodel: { quantize: none }\ndata: { tasks: [finqa] }\ntraining: { method: lora, max_steps: 10 }\n");
        File.WriteAllText(Path.Combine(dir, "b.yaml"), "stage: b\nmodel: { quantize: none }\ndata: { tasks: [fpb] }\ntraining: { method: lora, max_steps: 10 }\n");
        var path = Path.Combine(dir, "cur.yaml");
        File.WriteAllText(path, curriculum);
        return path;
    }

    private const string Two = "output: out\nstages:\n  - a.yaml\n  - { include: b.yaml, init_adapter: \"@a\" }\n";

    [Fact]
    public void Overrides_reach_every_stage_or_one_stage()
    {
        var c = ConfigLoader.LoadCurriculum(Setup(Two), ["training.lr=1e-3", "stages.1.training.max_steps=3", "evaluation.limit=5"]);
        Assert.All(c.Stages, s => Assert.Equal(1e-3, s.Training.Lr));
        Assert.Equal([10, 3], c.Stages.Select(s => s.Training.MaxSteps!.Value));
        Assert.Equal(5, c.Evaluation.Limit);
    }

    [Fact]
    public void Stage_outputs_default_to_folders_of_the_curriculum_output()
    {
        var c = ConfigLoader.LoadCurriculum(Setup(Two), ["output=elsewhere"]);
        Assert.Equal(Path.Combine("elsewhere", "a"), c.Stages[0].Output);
        Assert.Equal(Path.Combine("elsewhere", "a", "adapter"), c.Stages[1].InitAdapter);
    }

    [Fact]
    public void An_init_adapter_naming_no_earlier_stage_is_an_error()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup("stages:\n  - { include: b.yaml, init_adapter: \"@b\" }\n  - a.yaml\n")));
        Assert.Contains("stages[0] (b): init_adapter: '@b' names no earlier stage", e.Message);
    }

    [Fact]
    public void Evaluating_the_best_adapter_needs_a_last_stage_that_keeps_one()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup(Two), ["evaluation.adapter=best"]));
        Assert.Contains("evaluation.adapter is best but the last stage ('b') has no checkpoint.select_best, so it keeps no best adapter: set its checkpoint.select_best (e.g. mean) or evaluation.adapter: last", e.Message);
        var ok = ConfigLoader.LoadCurriculum(Setup(Two), ["evaluation.adapter=best", "stages.1.checkpoint.select_best=fpb.f1", "stages.1.logging.eval_tasks_every_steps=5"]);
        Assert.Equal(EvaluatedAdapter.Best, ok.Evaluation.Adapter);
    }

    [Fact]
    public void Stage_errors_say_which_stage()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup(Two), ["stages.0.lora.r=0"]));
        Assert.Contains("stages[0] (a): lora.r must be > 0, got 0", e.Message);
    }

    [Fact]
    public void An_override_for_a_missing_stage_is_an_error()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup(Two), ["stages.5.lora.r=4"]));
        Assert.Contains("expected stages.N.key with N from 0 to 1", e.Message);
    }

    [Fact]
    public void Two_stages_with_one_name_are_an_error()
    {
        var e = Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup("stages: [a.yaml, a.yaml]\n")));
        Assert.Contains("the stage name 'a' is used twice", e.Message);
    }

    [Fact]
    public void An_empty_curriculum_is_an_error() =>
        Assert.Contains("stages must list at least one stage", Assert.Throws<FinQLoraException>(() => ConfigLoader.LoadCurriculum(Setup("report: false\n"))).Message);
}
