using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Training;

namespace FinQLora.Tests.Training;

/// <summary>init_adapter_mode: continue takes the lora shape from the adapter's adapter_config.json and refuses a lora: section that disagrees.</summary>
public class ContinueAdapterTests
{
    private static string Adapter => Path.Combine(AppContext.BaseDirectory, "fixtures", "training-parity", "out", "adapter");

    private static TrainConfig Continue(LoraSection lora) => new() { InitAdapter = Adapter, InitAdapterMode = InitAdapterMode.Continue, Lora = lora };

    [Fact]
    public void The_shape_comes_from_the_adapter_config_and_dropout_and_dtype_from_the_stage()
    {
        var file = PeftAdapterFiles.ReadSettings(Adapter);
        var resolved = ContinueAdapter.Resolve(Continue(new LoraSection { Dropout = 0.2, TrainableDtype = "bfloat16" }));
        Assert.Equal(file.R, resolved.Lora.R);
        Assert.Equal(file.Alpha, resolved.Lora.Alpha);
        Assert.Equal(file.UseRslora, resolved.Lora.Rslora);
        Assert.Equal(LoraSettings.ExpandTargets(file.Targets), resolved.Lora.Targets);
        Assert.Equal(file.Layers?.Order(), resolved.Lora.Layers);
        Assert.Equal(0.2, resolved.Lora.Dropout);
        Assert.Equal("bfloat16", resolved.Lora.TrainableDtype);
        // the resolved config agrees with the file, so resolving it again changes nothing (a resumed run's saved config.yaml)
        Assert.Equal(resolved.Lora.R, ContinueAdapter.Resolve(resolved).Lora.R);
    }

    [Fact]
    public void A_lora_section_that_disagrees_is_refused_naming_both_values()
    {
        var file = PeftAdapterFiles.ReadSettings(Adapter);
        int r = file.R + 4;
        var e = Assert.Throws<FinQLoraException>(() => ContinueAdapter.Resolve(Continue(new LoraSection { R = r, Targets = ["up_proj"] })));
        Assert.Contains($"lora.r is {r} but the adapter has {file.R}", e.Message);
        Assert.Contains($"lora.targets is [up_proj] but the adapter has [{string.Join(", ", LoraSettings.ExpandTargets(file.Targets))}]", e.Message);
        Assert.Contains("adapter_config.json", e.Message);
        Assert.Equal(2, e.ExitCode);
    }

    [Fact]
    public void Setting_the_adapters_own_values_is_accepted()
    {
        var file = PeftAdapterFiles.ReadSettings(Adapter);
        var same = new LoraSection { R = file.R, Alpha = file.Alpha, Rslora = file.UseRslora, Targets = file.Targets, Layers = file.Layers };
        Assert.Equal(file.R, ContinueAdapter.Resolve(Continue(same)).Lora.R);
    }

    [Fact]
    public void Other_modes_are_left_alone_and_continue_needs_an_adapter_and_an_adapter_method()
    {
        var stack = Continue(new LoraSection { R = 99 }) with { InitAdapterMode = InitAdapterMode.Stack };
        Assert.Equal(99, ContinueAdapter.Resolve(stack).Lora.R);
        Assert.Contains(ConfigValidator.Validate(new TrainConfig { InitAdapterMode = InitAdapterMode.Continue }, inCurriculum: false),
            m => m.Contains("init_adapter_mode is continue but no init_adapter"));
        var full = Continue(new LoraSection()) with { Training = new TrainingSection { Method = TrainingMethod.Full }, Model = new ModelSection { Quantize = Quantize.None } };
        Assert.Contains(ConfigValidator.Validate(full, inCurriculum: false), m => m.Contains("init_adapter_mode is continue but training.method is full"));
    }
}
