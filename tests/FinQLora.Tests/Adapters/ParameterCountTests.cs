using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class ParameterCountTests
{
    [Fact]
    public void Llama31_8B_with_r16_on_qkvo_reports_PEFTs_numbers()
    {
        // PEFT's print_trainable_parameters for meta-llama/Llama-3.1-8B, LoraConfig(r=16, target_modules=[q,k,v,o]) (issue 4)
        var report = ParameterCount.Report(LlamaConfig.Llama31_8B, new LoraSettings(16, 32, 0.05, ["q_proj", "k_proj", "v_proj", "o_proj"]));
        Assert.Equal(13_631_488, report.Trainable);
        Assert.Equal(8_043_892_736, report.Total);
        Assert.Equal("trainable params: 13,631,488 || all params: 8,043,892,736 || trainable%: 0.1695", report.ToString());
    }

    [Fact]
    public void The_8B_base_has_its_published_8_030_261_248_parameters()
    {
        Assert.Equal(8_030_261_248, ParameterCount.Base(LlamaConfig.Llama31_8B));
    }

    [Fact]
    public void All_linear_at_r32_counts_every_projection()
    {
        // per layer: 32 · [(4096+4096) + 2·(4096+1024) + (4096+4096) + 2·(4096+14336) + (14336+4096)] = 32 · 81,920 = 2,621,440
        var report = ParameterCount.Report(LlamaConfig.Llama31_8B, new LoraSettings(32, 64, 0, ["all-linear"]));
        Assert.Equal(32L * 2_621_440, report.Trainable);
    }

    [Fact]
    public void A_layer_subset_counts_only_those_layers()
    {
        var config = LlamaConfig.Load(Fixtures.TinyModel);   // hidden 64, 4 heads × 16
        // q_proj: r · (in + out) = 4 · (64 + 64) = 512 per layer, two layers
        Assert.Equal(1024, ParameterCount.Lora(config, new LoraSettings(4, 8, 0, ["q_proj"], Layers: [0, 2])));
    }

    [Fact]
    public void Counts_from_shapes_equal_the_elements_of_a_built_model_and_its_injected_adapter()
    {
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        var settings = new LoraSettings(4, 8, 0, ["q_proj", "v_proj", "down_proj"], Layers: [1, 2]);
        long baseCount = bundle.Model.parameters().Sum(p => p.numel());
        var injected = LoraInjector.Inject(bundle.Model, settings, "x", trainable: true, seed: 0);
        Assert.Equal(baseCount, ParameterCount.Base(bundle.Model.Config));
        Assert.Equal(injected.Sum(p => p.Param.numel()), ParameterCount.Lora(bundle.Model.Config, settings));
        Assert.Equal(bundle.Model.parameters().Sum(p => p.numel()), ParameterCount.Report(bundle.Model.Config, settings).Total);
    }

    [Fact]
    public void Bad_settings_are_refused_with_the_valid_choices()
    {
        var e = Assert.Throws<FinQLoraException>(() => ParameterCount.Report(LlamaConfig.Llama31_8B, new LoraSettings(16, 32, 0, ["q_proj", "qkv_proj"])));
        Assert.Contains("qkv_proj", e.Message);
        Assert.Contains("q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear", e.Message);
        Assert.Contains("lora.r must be > 0, got -1", Assert.Throws<FinQLoraException>(() => ParameterCount.Lora(LlamaConfig.Llama31_8B, new LoraSettings(-1, 32, 0, ["q_proj"]))).Message);
        Assert.Contains("layer 32 does not exist", Assert.Throws<FinQLoraException>(() => ParameterCount.Lora(LlamaConfig.Llama31_8B, new LoraSettings(8, 16, 0, ["q_proj"], Layers: [32]))).Message);
    }
}
