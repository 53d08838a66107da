using System.Text.Json.Nodes;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

/// <summary>Variants of the fixture's tokenizer.json (merge forms, pre-tokenizer shapes, BOS sources) and the errors for broken folders.</summary>
public class TokenizerJsonLoadingTests
{
    private static JsonNode FixtureJson() => JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "tokenizer.json")))!;

    private static string Folder(JsonNode? tokenizerJson, string? tokenizerConfig = null, string? config = null)
    {
        var dir = Fixtures.TempDir();
        if (tokenizerJson is not null) File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizerJson.ToJsonString());
        if (tokenizerConfig is not null) File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), tokenizerConfig);
        if (config is not null) File.WriteAllText(Path.Combine(dir, "config.json"), config);
        return dir;
    }

    private static IEnumerable<(string Text, int[] Ids, int[] IdsNoSpecial)> Cases() =>
        Fixtures.Expected["tokens"]!.AsArray().Select(e => (e!["text"]!.GetValue<string>(), Fixtures.Ints(e["ids"]), Fixtures.Ints(e["ids_no_special"])));

    private static int VocabId(string token) => FixtureJson()["model"]!["vocab"]![token]!.GetValue<int>();

    [Fact]
    public void Merges_written_as_strings_give_the_same_ids_as_merges_written_as_pairs()
    {
        var json = FixtureJson();
        var model = json["model"]!.AsObject();
        var asStrings = new JsonArray(model["merges"]!.AsArray().Select(m => (JsonNode)JsonValue.Create($"{m![0]} {m[1]}")).ToArray());
        model["merges"] = asStrings;
        var t = LlamaTokenizer.FromModelDirectory(Folder(json));
        foreach (var (text, _, idsNoSpecial) in Cases())
            Assert.Equal(idsNoSpecial, t.Encode(text, addBos: false));
    }

    [Fact]
    public void A_single_split_pre_tokenizer_is_read_like_one_inside_a_sequence()
    {
        var json = FixtureJson();
        json["pre_tokenizer"] = json["pre_tokenizer"]!["pretokenizers"]![0]!.DeepClone();
        var t = LlamaTokenizer.FromModelDirectory(Folder(json));
        foreach (var (text, _, idsNoSpecial) in Cases())
            Assert.Equal(idsNoSpecial, t.Encode(text, addBos: false));
    }

    [Fact]
    public void Without_a_split_pre_tokenizer_the_llama3_regex_is_used()
    {
        var json = FixtureJson();
        json["pre_tokenizer"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}""");
        var t = LlamaTokenizer.FromModelDirectory(Folder(json));
        foreach (var (text, _, idsNoSpecial) in Cases())
            Assert.Equal(idsNoSpecial, t.Encode(text, addBos: false));
    }

    [Fact]
    public void The_split_regex_comes_from_the_file()
    {
        // "." makes every character its own piece, so ASCII text becomes one byte token per character.
        var json = FixtureJson();
        json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = ".";
        var t = LlamaTokenizer.FromModelDirectory(Folder(json));
        Assert.Equal(new[] { VocabId("t"), VocabId("h"), VocabId("e") }, t.Encode("the", addBos: false));
        Assert.NotEqual(t.Encode("the", addBos: false), LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel).Encode("the", addBos: false));
    }

    [Fact]
    public void Bos_comes_from_tokenizer_config_when_there_is_no_post_processor()
    {
        var json = FixtureJson();
        json.AsObject().Remove("post_processor");
        var t = LlamaTokenizer.FromModelDirectory(Folder(json, """{"bos_token": {"content": "<|reserved_special_token_0|>"}, "eos_token": "<|end_of_text|>"}"""));
        Assert.Equal(1002, t.BosId);
        Assert.Equal(1002, t.Encode("Hello world")[0]);
        Assert.Contains(1001, t.StopIds);
    }

    [Fact]
    public void The_post_processors_bos_wins_over_tokenizer_config()
    {
        var t = LlamaTokenizer.FromModelDirectory(Folder(FixtureJson(), """{"bos_token": "<|reserved_special_token_0|>"}"""));
        Assert.Equal(1000, t.BosId);
    }

    [Fact]
    public void Config_eos_token_id_list_becomes_stop_ids()
    {
        var t = LlamaTokenizer.FromModelDirectory(Folder(FixtureJson(), config: """{"eos_token_id": [1004, 1005]}"""));
        Assert.Superset(new HashSet<int> { 1004, 1005, 1009 }, t.StopIds.ToHashSet());
    }

    [Fact]
    public void Special_tokens_from_added_tokens_are_recognised_in_text()
    {
        var t = LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel);
        Assert.Equal(1009, t.SpecialTokenId("<|eot_id|>"));
        var ids = t.Encode("a<|eot_id|><|start_header_id|>", addBos: false);
        Assert.Equal(new[] { 1009, 1006 }, ids[^2..]);
    }

    [Fact]
    public void A_model_folder_with_only_tokenizer_model_uses_it()
    {
        var dir = Folder(null, config: """{"eos_token_id": [128001, 128009]}""");
        BundledTokenizer.WriteTo(dir);
        var t = LlamaTokenizer.FromModelDirectory(dir);
        Assert.Equal(new[] { 128000, 9906, 1917 }, t.Encode("Hello world"));   // llama.cpp's vector for "Hello world"
    }

    [Fact]
    public void Tokenizer_json_is_preferred_over_tokenizer_model()
    {
        var dir = Folder(FixtureJson());
        BundledTokenizer.WriteTo(dir);
        Assert.Equal(1000, LlamaTokenizer.FromModelDirectory(dir).BosId);
    }

    [Fact]
    public void Invalid_json_names_the_file()
    {
        var dir = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), "{\"model\": ");
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(dir));
        Assert.Contains(Path.Combine(dir, "tokenizer.json"), e.Message);
        Assert.Contains("invalid JSON", e.Message);
    }

    [Fact]
    public void Invalid_tokenizer_config_names_the_file()
    {
        var dir = Folder(FixtureJson(), "{ not json");
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(dir));
        Assert.Contains("tokenizer_config.json", e.Message);
    }

    [Theory]
    [InlineData("Unigram")]
    [InlineData("WordPiece")]
    public void A_model_type_other_than_bpe_is_refused(string type)
    {
        var json = FixtureJson();
        json["model"]!["type"] = type;
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(Folder(json)));
        Assert.Contains(type, e.Message);
        Assert.Contains("tokenizer.json", e.Message);
    }

    [Fact]
    public void A_merge_of_unknown_tokens_is_refused()
    {
        var json = FixtureJson();
        json["model"]!["merges"]!.AsArray().Add(new JsonArray("zz_unknown", "t"));
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(Folder(json)));
        Assert.Contains("zz_unknown", e.Message);
    }

    [Fact]
    public void A_vocab_whose_ids_do_not_follow_merge_order_is_refused()
    {
        // Swap the ids of the first two merge results: the tiktoken-style ranks would then merge in the wrong order.
        var json = FixtureJson();
        var vocab = json["model"]!["vocab"]!.AsObject();
        var merges = json["model"]!["merges"]!.AsArray();
        string first = $"{merges[0]![0]}{merges[0]![1]}", second = $"{merges[1]![0]}{merges[1]![1]}";
        int a = vocab[first]!.GetValue<int>(), b = vocab[second]!.GetValue<int>();
        vocab[first] = b;
        vocab[second] = a;
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromModelDirectory(Folder(json)));
        Assert.Contains("order", e.Message);
    }

    [Fact]
    public void A_tokenizer_model_too_large_to_be_one_is_refused_before_it_is_read()
    {
        var path = Path.Combine(Fixtures.TempDir(), "tokenizer.model");
        using (var f = File.Create(path)) f.SetLength(LlamaTokenizer.MaxTiktokenBytes + 1);   // sparse: no disk, no memory
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromTiktokenModel(path));
        Assert.Contains($"{LlamaTokenizer.MaxTiktokenBytes + 1:N0} bytes is over the {LlamaTokenizer.MaxTiktokenBytes:N0}-byte limit", e.Message);
    }

    [Fact]
    public void A_broken_tokenizer_model_line_names_the_file()
    {
        var path = Path.Combine(Fixtures.TempDir(), "tokenizer.model");
        File.WriteAllText(path, "IQ== 0\nnot-a-rank-line\n");
        var e = Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromTiktokenModel(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("line 2", e.Message);
    }
}
