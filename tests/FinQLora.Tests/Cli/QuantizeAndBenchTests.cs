using System.Text.Json.Nodes;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Cli;

public class QuantizeAndBenchTests
{
    [Fact]
    public void Quantize_writes_the_bitsandbytes_layout_that_loads_as_the_nf4_model()
    {
        var output = Path.Combine(Fixtures.TempDir(), "q");
        var r = CliProcess.Run("quantize", "--model", Fixtures.TinyModel, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(output, "config.json")))!;
        Assert.Equal("nf4", config["quantization_config"]!["bnb_4bit_quant_type"]!.GetValue<string>());
        using (var w = ModelWeights.Open(output))
        {
            Assert.Contains("model.layers.0.self_attn.q_proj.weight.quant_state.bitsandbytes__nf4", w.Names);
            Assert.Equal("U8", w.Info("model.layers.0.self_attn.q_proj.weight").DType);
        }
        var pairs = Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();
        using var quantized = ModelBundle.Load(output, new ModelLoadOptions(CPU, ScalarType.Float32));
        using var onLoad = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32, "nf4"));
        var a = Scorer.Score(quantized.Model, quantized.Tokenizer, pairs);
        var b = Scorer.Score(onLoad.Model, onLoad.Tokenizer, pairs);
        // the written checkpoint keeps embeddings, norms and the head in bf16 (as bitsandbytes checkpoints do), so within 2 %
        for (int i = 0; i < pairs.Count; i++) Assert.InRange(a[i].LogProb, b[i].LogProb - 0.02 * Math.Abs(b[i].LogProb), b[i].LogProb + 0.02 * Math.Abs(b[i].LogProb));
    }

    [Theory]
    [InlineData("qlora", false)]
    [InlineData("full", false)]
    [InlineData("lora", true)]
    public void Bench_runs_on_the_tiny_shape(string method, bool generate)
    {
        string[] args = ["bench", "--shape", "tiny", "--method", method, "--batch", "2", "--seq", "32", "--steps", "1", "--warmup", "1", "--dtype", "float32", "--prompt-len", "8", "--new-tokens", "4"];
        var r = CliProcess.Run(generate ? [.. args, "--generate"] : args);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = JsonNode.Parse(r.Stdout.Trim().Split('\n')[^1])!;
        Assert.True((json[generate ? "new_tokens_per_s" : "tokens_per_s"]!.GetValue<double>()) > 0);
        if (!generate) Assert.True(json["trainable_params"]!.GetValue<long>() > 0);
    }
}
