using FinQLora.Text;

namespace FinQLora.Tests.Text;

public class LlamaTokenizerTests
{
    private static readonly Lazy<LlamaTokenizer> Meta = new(LlamaTokenizer.Llama3);
    private static LlamaTokenizer Fixture() => LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel);

    public static IEnumerable<object[]> LlamaCppVectors()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "fixtures", "llama3-test-vectors");
        var inputs = File.ReadAllText(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.inp")).Split("\n__ggml_vocab_test__\n");
        var outputs = File.ReadAllLines(Path.Combine(dir, "ggml-vocab-llama-bpe.gguf.out"));
        Assert.Equal(outputs.Length, inputs.Length - 1);   // the file ends with a separator
        for (int i = 0; i < outputs.Length; i++)
            yield return [i, inputs[i], outputs[i]];
    }

    [Theory]
    [MemberData(nameof(LlamaCppVectors))]
    public void Bundled_tokenizer_model_reproduces_llama_cpp_vectors(int index, string text, string expected)
    {
        var ids = Meta.Value.Encode(text, addBos: false);
        Assert.True(expected.Trim() == string.Join(' ', ids), $"case {index}: {text}");
    }

    [Fact]
    public void Bundled_tokenizer_has_llama31_special_tokens()
    {
        var t = Meta.Value;
        Assert.Equal(128000, t.BosId);
        Assert.Equal(128009, t.EotId);
        Assert.Equal(128256, t.VocabSize);
        Assert.Equal(new[] { 128001, 128008, 128009 }, t.StopIds.Order());
        Assert.Equal(new[] { 128000, 128006, 882, 128007 }, t.Encode("<|start_header_id|>user<|end_header_id|>"));
    }

    [Fact]
    public void Tokenizer_json_ids_equal_transformers()
    {
        var t = Fixture();
        foreach (var entry in Fixtures.Expected["tokens"]!.AsArray())
        {
            var text = entry!["text"]!.GetValue<string>();
            Assert.Equal(Fixtures.Ints(entry["ids"]), t.Encode(text, addBos: true));
            Assert.Equal(Fixtures.Ints(entry["ids_no_special"]), t.Encode(text, addBos: false));
        }
    }

    [Fact]
    public void Decoding_equals_transformers()
    {
        var t = Fixture();
        foreach (var entry in Fixtures.Expected["decoded"]!.AsArray())
            Assert.Equal(entry!["text"]!.GetValue<string>(), t.Decode(Fixtures.Ints(entry["ids"])));
    }

    [Fact]
    public void Stop_ids_include_the_configs_eos_ids()
    {
        var t = Fixture();
        Assert.Equal(1000, t.BosId);
        Assert.Equal(new[] { 1001, 1008, 1009 }, t.StopIds.Order());
    }

    [Fact]
    public void Tokenizer_json_without_merges_is_a_clear_error()
    {
        var dir = Fixtures.TempDir();
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "tokenizer.json")))!;
        json["model"]!.AsObject().Remove("merges");
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(dir));
        Assert.Contains("merges", e.Message);
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void Missing_tokenizer_names_the_folder()
    {
        var dir = Fixtures.TempDir();
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(dir));
        Assert.Contains(dir, e.Message);
    }
}
