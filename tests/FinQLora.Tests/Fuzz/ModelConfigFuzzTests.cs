using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Model;
using Xunit.Abstractions;

namespace FinQLora.Tests.Fuzz;

/// <summary>config.json (Model/LlamaConfig.cs): mutated configs load or are refused with a FinQLoraException.</summary>
public class ModelConfigFuzzTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string Seed = File.ReadAllText(Fixtures.Parity("model", "config.json"));
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Mutated_config_json_loads_or_is_refused_with_a_clear_error()
    {
        var path = Path.Combine(_dir, "config.json");
        FuzzCase.Files("config.json", Mutations.JsonDocument(Seed), path, () =>
        {
            var c = LlamaConfig.Load(path);
            // What the model builder relies on, for every config that loads.
            Assert.True(c.VocabSize > 0 && c.HiddenSize > 0 && c.IntermediateSize > 0 && c.NumHiddenLayers > 0);
            Assert.True(c.NumAttentionHeads % c.NumKeyValueHeads == 0 && c.HeadDim > 0 && c.HeadDim % 2 == 0);
            Assert.True(c.RmsNormEps > 0 && c.Rope.Theta > 0);
            _ = checked((long)c.VocabSize * c.HiddenSize + (long)c.NumHiddenLayers * c.HiddenSize * c.IntermediateSize * 3);
        }, output.WriteLine);
    }

    [Fact]
    public void Valid_configs_load_with_the_values_written()
    {
        var gen = Gen.Select(Gen.Int[1, 200_000], Gen.Int[1, 64], Gen.Int[1, 8], Gen.Int[1, 64], Gen.Int[1, 200], Gen.Bool, Gen.Int[0, 2]);
        var path = Path.Combine(_dir, "valid.json");
        gen.Sample((vocab, headsPerKv, kvHeads, halfHeadDim, layers, tied, eosKind) =>
        {
            int heads = headsPerKv * kvHeads, headDim = 2 * halfHeadDim;
            var o = new JsonObject
            {
                ["model_type"] = "llama", ["vocab_size"] = vocab, ["hidden_size"] = heads * headDim, ["intermediate_size"] = 3 * heads * headDim,
                ["num_hidden_layers"] = layers, ["num_attention_heads"] = heads, ["num_key_value_heads"] = kvHeads,
                ["rms_norm_eps"] = 1e-5, ["rope_theta"] = 500000.0, ["tie_word_embeddings"] = tied,
                ["eos_token_id"] = eosKind switch { 0 => null, 1 => 7, _ => new JsonArray(7, 8) },
            };
            File.WriteAllText(path, o.ToJsonString());
            var c = LlamaConfig.Load(path);
            Assert.Equal((vocab, heads * headDim, heads, kvHeads, headDim, layers, tied), (c.VocabSize, c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim, c.NumHiddenLayers, c.TieWordEmbeddings));
            Assert.Equal(eosKind switch { 0 => [], 1 => [7], _ => [7, 8] }, c.EosTokenIds);
        }, iter: Math.Min(FuzzCase.Iter, 1000), threads: 1);
    }

    [Theory]
    [InlineData("\"num_attention_heads\": 0", "'num_attention_heads' must be between 1 and")]
    [InlineData("\"vocab_size\": -5", "'vocab_size' must be between 1 and")]
    [InlineData("\"hidden_size\": 1e999", "'hidden_size' must be an integer")]
    [InlineData("\"rms_norm_eps\": 0", "rms_norm_eps must be > 0")]
    [InlineData("\"eos_token_id\": [1, \"x\"]", "eos_token_id must be an integer or a list of integers")]
    [InlineData("\"vocab_size\": 1011, \"vocab_size\": 12", "invalid JSON")]
    public void Bad_values_name_the_key(string replacement, string message)
    {
        var key = replacement[1..replacement.IndexOf('"', 1)];
        var o = JsonNode.Parse(Seed)!.AsObject();
        o.Remove(key);
        var text = o.ToJsonString().TrimEnd('}') + ", " + replacement + "}";
        var path = Path.Combine(_dir, "config.json");
        File.WriteAllText(path, text);
        var e = Assert.Throws<FinQLoraException>(() => LlamaConfig.Load(path));
        Assert.Contains(message, e.Message);
        Assert.StartsWith(path, e.Message);
    }
}
