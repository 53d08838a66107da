using System.Text;
using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

/// <summary>
/// tests/fixtures/nf4/model-bnb-nf4: the parity fixture's tiny model (fp32) loaded by transformers with
/// BitsAndBytesConfig(nf4, double quantization, fp32 compute) and saved with save_pretrained, by real
/// bitsandbytes (0.50.2.dev0, built from source on an H200; tools/gpu/bnb.sh, check_bnb.py --save),
/// with bitsandbytes' log-probs for eight token ids (bnb-nf4-logprobs.json).
/// </summary>
public class BitsandbytesCheckpointTests
{
    private static string Nf4Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "nf4", name);
    private static string BnbModel => Nf4Fixture("model-bnb-nf4");

    [Fact]
    public void A_checkpoint_bitsandbytes_saved_gives_bitsandbytes_logprobs()
    {
        var expected = JsonNode.Parse(File.ReadAllText(Nf4Fixture("bnb-nf4-logprobs.json")))!.AsObject();
        var ids = expected["ids"]!.AsArray().Select(x => (long)x!.GetValue<int>()).ToArray();
        var rows = expected["logprobs"]!.AsArray().Select(r => r!.AsArray().Select(x => x!.GetValue<float>()).ToArray()).ToArray();
        using var scope = NewDisposeScope();
        using var model = LlamaBuilder.Load(BnbModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        using var _ = no_grad();
        var ours = model.Logits(tensor(ids).unsqueeze(0)).log_softmax(-1)[0];
        var want = tensor(rows.SelectMany(r => r).ToArray()).view(rows.Length, -1);
        double max = (ours - want).abs().max().item<float>();
        Assert.True(max < 2e-4, $"max |FinQLora - bitsandbytes| log-prob = {max}");
        // and the check has teeth: the dense model differs by the quantization error
        using var dense = LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        double quantError = (dense.Logits(tensor(ids).unsqueeze(0)).log_softmax(-1)[0] - want).abs().max().item<float>();
        Assert.True(quantError > 100 * max, $"dense vs bitsandbytes {quantError}, ours vs bitsandbytes {max}");
    }

    /// <summary>
    /// On the CPU every 4-bit code, every 8-bit absmax code and both maps are bitsandbytes' bytes; the
    /// offset (mean of the absmax, a float32 reduction) may differ in its last bit from CUDA's
    /// summation order, and with it the nested absmax. On CUDA (same torch reduction as bitsandbytes)
    /// all bytes are equal: tests/fixtures/nf4/compare_checkpoints.py, run by tools/gpu/bnb.sh.
    /// </summary>
    [Fact]
    public void Quantize_writes_the_bytes_bitsandbytes_writes_for_the_same_model()
    {
        var outDir = Path.Combine(Fixtures.TempDir(), "q");
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [], outDir, DType: ScalarType.Float32, RequantizeNf4: true));
        using var ours = ModelWeights.Open(outDir);
        using var bnb = ModelWeights.Open(BnbModel);
        Assert.Equal(bnb.Names.Order(), ours.Names.Order());
        int quantized = 0;
        foreach (var name in bnb.Names.Where(n => n.Contains("_proj.weight", StringComparison.Ordinal)))
        {
            Assert.Equal(bnb.Info(name).DType, ours.Info(name).DType);
            if (!name.Contains(".quant_state.", StringComparison.Ordinal)) Assert.Equal(bnb.Info(name).Shape, ours.Info(name).Shape);   // the JSON's length varies with the offset's digits
            if (name.Contains(".quant_state.", StringComparison.Ordinal))
            {
                var theirs = JsonNode.Parse(Encoding.UTF8.GetString(bnb.ReadBytes(name)))!.AsObject();
                var mine = JsonNode.Parse(Encoding.UTF8.GetString(ours.ReadBytes(name)))!.AsObject();
                Assert.True(WithinUlps(theirs["nested_offset"]!.GetValue<float>(), mine["nested_offset"]!.GetValue<float>(), 2), $"{name}: offset {theirs["nested_offset"]} vs {mine["nested_offset"]}");
                theirs.Remove("nested_offset");
                mine.Remove("nested_offset");
                Assert.True(JsonNode.DeepEquals(theirs, mine), $"{name}: {theirs.ToJsonString()} vs {mine.ToJsonString()}");
            }
            else if (name.EndsWith(".nested_absmax", StringComparison.Ordinal))
            {
                // max |absmax - offset|: off by what the offset is off by, up to 2 of the offset's ulps
                var state = JsonNode.Parse(Encoding.UTF8.GetString(bnb.ReadBytes(name.Replace(".nested_absmax", ".quant_state.bitsandbytes__nf4"))))!;
                float offset = state["nested_offset"]!.GetValue<float>(), ulp = MathF.BitIncrement(offset) - offset;
                var a = bnb.Load(name).data<float>().ToArray();
                var b = ours.Load(name).data<float>().ToArray();
                Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 2 * ulp), $"{name}: {string.Join(",", a)} vs {string.Join(",", b)}");
            }
            else Assert.True(bnb.ReadBytes(name).AsSpan().SequenceEqual(ours.ReadBytes(name)), $"{name}: bytes differ from bitsandbytes'");
            quantized++;
        }
        Assert.Equal(3 * 7 * 6, quantized);   // 3 layers x 7 projections x (weight, absmax, quant_map, nested_absmax, nested_quant_map, quant_state)
    }

    private static bool WithinUlps(float a, float b, int ulps) =>
        Math.Abs(BitConverter.SingleToInt32Bits(a) - BitConverter.SingleToInt32Bits(b)) <= ulps;

    [Fact]
    public void The_quantization_config_written_is_the_one_transformers_writes()
    {
        var theirs = JsonNode.Parse(File.ReadAllText(Path.Combine(BnbModel, "config.json")))!["quantization_config"]!;
        var ours = (BnbQuantizationConfig.Default with { bnb_4bit_compute_dtype = ScalarType.Float32 }).ToJson();
        // text, not just values: transformers refuses llm_int8_threshold written as the integer 6
        Assert.Equal(theirs.ToJsonString(), ours.ToJsonString());
    }
}
