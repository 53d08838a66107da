using System.Text.Json;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

public class BnbQuantizationConfigTests
{
    private static BnbQuantizationConfig Parse(string json) => BnbQuantizationConfig.Parse(JsonDocument.Parse(json).RootElement);

    [Fact]
    public void Reads_what_transformers_writes_for_nf4_with_double_quantization()
    {
        var c = Parse("""
            {"_load_in_4bit": true, "_load_in_8bit": false, "bnb_4bit_compute_dtype": "bfloat16", "bnb_4bit_quant_storage": "uint8",
             "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true, "llm_int8_enable_fp32_cpu_offload": false,
             "llm_int8_has_fp16_weight": false, "llm_int8_skip_modules": null, "llm_int8_threshold": 6.0,
             "load_in_4bit": true, "load_in_8bit": false, "quant_method": "bitsandbytes"}
            """);
        Assert.Equal(Bnb4BitType.Nf4, c.bnb_4bit_quant_type);
        Assert.True(c.bnb_4bit_use_double_quant);
        Assert.Equal(ScalarType.BFloat16, c.bnb_4bit_compute_dtype);
        Assert.Empty(c.llm_int8_skip_modules);
    }

    [Fact]
    public void Writing_and_reading_back_gives_the_same_config()
    {
        var c = BnbQuantizationConfig.Default;
        var back = BnbQuantizationConfig.Parse(JsonDocument.Parse(c.ToJson().ToJsonString()).RootElement);
        Assert.Equal(c.bnb_4bit_quant_type, back.bnb_4bit_quant_type);
        Assert.Equal(c.bnb_4bit_use_double_quant, back.bnb_4bit_use_double_quant);
        Assert.Equal(c.bnb_4bit_compute_dtype, back.bnb_4bit_compute_dtype);
        Assert.Equal("bitsandbytes", c.ToJson()["quant_method"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_8bit": true}""", "load_in_8bit")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": false}""", "load_in_4bit")]
    [InlineData("""{"quant_method": "gptq", "bits": 4}""", "quant_method is 'gptq'")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_quant_type": "int4"}""", "bnb_4bit_quant_type is 'int4'")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": true, "bnb_4bit_compute_dtype": "int8"}""", "bnb_4bit_compute_dtype is 'int8'")]
    [InlineData("""{"quant_method": "bitsandbytes", "load_in_4bit": "yes"}""", "load_in_4bit must be true or false")]
    public void Non_4bit_or_malformed_configs_are_errors_naming_the_key(string json, string message)
    {
        var e = Assert.Throws<FinQLoraException>(() => Parse(json));
        Assert.Contains("quantization_config", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void The_quant_type_defaults_to_fp4_as_in_transformers()
    {
        Assert.Equal(Bnb4BitType.Fp4, Parse("""{"quant_method": "bitsandbytes", "load_in_4bit": true}""").bnb_4bit_quant_type);
    }
}
