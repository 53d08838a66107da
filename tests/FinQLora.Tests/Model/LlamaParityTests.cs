using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Model;

public class LlamaParityTests
{
    private static LlamaForCausalLM Load(string dir, ScalarType dtype = ScalarType.Float32) =>
        LlamaBuilder.Load(dir, new ModelLoadOptions(CPU, dtype));

    [Fact]
    public void Greedy_ids_equal_transformers_for_a_prompt_given_as_ids()
    {
        using var model = Load(Fixtures.TinyModel);
        var tokens = Fixtures.Expected["tokens"]!.AsArray();
        var greedy = Fixtures.Expected["greedy"]!.AsArray();
        var prompt = greedy[2]!["prompt"]!.GetValue<string>();
        var ids = Fixtures.Ints(tokens.First(t => t!["text"]!.GetValue<string>() == prompt)!["ids"]);
        var result = TextGenerator.Generate(model, [ids], new HashSet<int> { 1001, 1008, 1009 }, 1001, new GenerationOptions(MaxNewTokens: 20));
        Assert.Equal(Fixtures.Ints(greedy[2]!["new_ids"]), result[0].TokenIds);
    }

    [Fact]
    public void Full_sequence_logprob_matches_a_cached_decode()
    {
        // The KV-cache path and the full causal forward must agree on every next-token distribution.
        using var model = Load(Fixtures.TinyModel);
        var ids = new long[] { 1000, 5, 17, 300, 42, 8, 999, 77 };
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var full = model.Logits(tensor(ids).unsqueeze(0));                           // [1, 8, v]
        var c = model.Config;
        using var cache = new KvCache(c.NumHiddenLayers, 1, c.NumKeyValueHeads, 16, c.HeadDim, ScalarType.Float32, CPU);
        for (int i = 0; i < ids.Length; i++)
        {
            var h = model.model.Forward(tensor(new[] { ids[i] }).view(1, 1), tensor(new long[] { i }).view(1, 1), null, cache);
            var step = model.lm_head.call(h)[0, 0];
            Assert.True(allclose(step, full[0, i], rtol: 1e-4, atol: 1e-4), $"position {i}");
        }
    }
}
