using System.Text;
using System.Text.Json.Nodes;
using FinQLora.Adapters;
using FinQLora.Data;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Tests.Fuzz;

/// <summary>The inputs that crashed a parser while fuzzing (docs/FUZZING.md), kept as fixed cases: each is now a FinQLoraException.</summary>
public class FoundByFuzzingTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, byte[] bytes)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] SafeTensors(byte[] header, int data)
    {
        var bytes = new byte[8 + header.Length + data];
        BitConverter.TryWriteBytes(bytes.AsSpan(0, 8), (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[[0],8]}}""", "invalid data_offsets")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a\ud800":{}}""", "unpaired UTF-16 surrogate escape")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", "invalid JSON")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}""", "overflows")]
    public void Safetensors_headers(string header, string message)
    {
        var path = Write("x.safetensors", SafeTensors(Encoding.UTF8.GetBytes(header), 8));
        Assert.Contains(message, Assert.Throws<FinQLoraException>(() => SafeTensorsFile.Open(path)).Message);
    }

    [Fact]
    public void Invalid_utf8_in_a_safetensors_header()
    {
        var header = Encoding.UTF8.GetBytes("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"XX"}}""");
        header[^5] = 0xC6;   // a lead byte without its continuation
        var path = Write("x.safetensors", SafeTensors(header, 8));
        Assert.Contains("not valid UTF-8", Assert.Throws<FinQLoraException>(() => SafeTensorsFile.Open(path)).Message);
    }

    [Fact]
    public void Duplicate_keys_in_a_flare_row_name_the_line()
    {
        var path = Write("rows.jsonl", Encoding.UTF8.GetBytes("""{"query":"q","answer":"positive","answer":"neutral"}""" + "\n"));
        var e = Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(path, FlareTasks.Get("fpb"), "test"));
        Assert.StartsWith($"{path}:1: invalid JSON", e.Message);
        var source = Path.Combine(_dir, "source", "fpb");
        Directory.CreateDirectory(source);
        File.Copy(path, Path.Combine(source, "test.jsonl"));
        Assert.ThrowsAny<FinQLoraException>(() => DatasetPreparer.PrepareLocal(Path.Combine(_dir, "source"), Path.Combine(_dir, "out"), [FlareTasks.Get("fpb")], false));
    }

    [Fact]
    public void Unpaired_surrogate_escapes_in_keys()
    {
        var rows = Write("rows.jsonl", Encoding.UTF8.GetBytes("""{"query\ud800":"q","answer":"positive"}""" + "\n"));
        Assert.Contains("unpaired UTF-16 surrogate escape", Assert.ThrowsAny<FinQLoraException>(() => FlareJsonl.Read(rows, FlareTasks.Get("fpb"), "test")).Message);
        var config = Write("config.json", Encoding.UTF8.GetBytes("""{"vocab_size\udc00":1}"""));
        Assert.Contains("unpaired UTF-16 surrogate escape", Assert.Throws<FinQLoraException>(() => LlamaConfig.Load(config)).Message);
    }

    [Fact]
    public void Pixiu_turns_that_are_not_objects()
    {
        var path = Write("p.jsonl", Encoding.UTF8.GetBytes("""{"conversations":[["human","q"],{"from":"agent","value":"positive"}]}""" + "\n"));
        Assert.Contains("conversations[0].value must be a string", Assert.ThrowsAny<FinQLoraException>(() => PixiuJsonl.Read(path, FlareTasks.Get("fpb"), "test")).Message);
    }

    [Theory]
    [InlineData("target_modules", "[\"q_proj\", 3]", "'target_modules' must be a list of module names")]
    [InlineData("layers_to_transform", "[\"a\"]", "'layers_to_transform' must be a list of layer numbers")]
    [InlineData("lora_dropout", "\"x\"", "'lora_dropout' must be a number")]
    [InlineData("r", "4.5", "required field 'r' is missing or not an integer")]
    public void Adapter_config_fields_of_the_wrong_type(string key, string json, string message)
    {
        var o = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("adapter-a", "adapter_config.json")))!.AsObject();
        o[key] = JsonNode.Parse(json);
        Write(PeftAdapterFiles.ConfigFile, Encoding.UTF8.GetBytes(o.ToJsonString()));
        Assert.Contains(message, Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.ReadSettings(_dir)).Message);
    }

    [Theory]
    [InlineData("merges", "[\"\"]", "merge 0 '' is not 'a b'")]
    [InlineData("merges", "[[\"a\", 1]]", "merge 0 is neither")]
    [InlineData("vocab.!", "\"0\"", "has id \"0\"; ids are integers")]
    [InlineData("vocab.!", "null", "has id null")]
    [InlineData("vocab.\"", "0", "share id 0")]
    public void Tokenizer_json_fields_of_the_wrong_type(string where, string json, string message)
    {
        var full = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "tokenizer.json")))!.AsObject();
        var model = full["model"]!.AsObject();
        if (where.StartsWith("vocab.", StringComparison.Ordinal)) model["vocab"]![where[6..]] = JsonNode.Parse(json);
        else model[where] = JsonNode.Parse(json);
        var path = Write("tokenizer.json", Encoding.UTF8.GetBytes(full.ToJsonString()));
        Assert.Contains(message, Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromTokenizerJson(path)).Message);
    }

    [Theory]
    [InlineData("(?i:'s|'t|'re|'ve||'d)|\\p{L}+|\\s+")]   // what the long run found: an empty alternative, and encoding never returned
    [InlineData("\\p{L}*|\\s+")]
    public void A_pre_tokenizer_regex_that_matches_empty_text_is_refused(string pattern)
    {
        var full = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "tokenizer.json")))!.AsObject();
        full["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = pattern;
        var path = Write("tokenizer.json", Encoding.UTF8.GetBytes(full.ToJsonString()));
        Assert.Contains("the pre-tokenizer regex can match empty text", Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromTokenizerJson(path)).Message);
    }

    [Fact]
    public void A_vocabulary_without_every_byte_is_refused()
    {
        var full = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "tokenizer.json")))!.AsObject();
        full["model"]!["vocab"]!.AsObject().Remove("Ā");   // byte 0x00 in the byte-level alphabet
        var path = Write("tokenizer.json", Encoding.UTF8.GetBytes(full.ToJsonString()));
        Assert.Contains("lacks 1 of the 256 single-byte tokens (e.g. byte 0x00)", Assert.Throws<FinQLoraException>(() => LlamaTokenizer.FromTokenizerJson(path)).Message);
    }

    [Fact]
    public void Zero_attention_heads_without_head_dim()
    {
        var o = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "config.json")))!.AsObject();
        o["num_attention_heads"] = 0;
        o.Remove("head_dim");
        var path = Write("config.json", Encoding.UTF8.GetBytes(o.ToJsonString()));
        Assert.Contains("'num_attention_heads' must be between 1 and", Assert.Throws<FinQLoraException>(() => LlamaConfig.Load(path)).Message);
    }
}
