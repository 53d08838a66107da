using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Text;
using Xunit.Abstractions;

namespace FinQLora.Tests.Fuzz;

/// <summary>tokenizer.json (Text/LlamaTokenizer.cs): mutated files load and encode, or are refused with a FinQLoraException.</summary>
public class TokenizerJsonFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const string Sample = "The cat sat in the hat, 2024! Ünïcode → ok\n<|eot_id|> end";

    /// <summary>
    /// The fixture's tokenizer cut down to its 256 byte tokens, its first 40 merges and their results, and its
    /// special tokens (a few KB, so each case is fast; ids keep the fixture's merge order).
    /// </summary>
    private static readonly string Seed = BuildSeed();

    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    private static string BuildSeed()
    {
        var full = JsonNode.Parse(File.ReadAllText(Fixtures.Parity("model", "tokenizer.json")))!.AsObject();
        var model = full["model"]!.AsObject();
        var merges = model["merges"]!.AsArray().Take(40).Select(m => m!.DeepClone()).ToArray();
        var keep = merges.Select(m => m!.AsArray()).Select(m => m[0]!.GetValue<string>() + m[1]!.GetValue<string>()).ToHashSet();
        var vocab = new JsonObject();
        foreach (var (token, id) in model["vocab"]!.AsObject())
            if (id!.GetValue<int>() < 256 || keep.Contains(token)) vocab[token] = id.GetValue<int>();
        model["vocab"] = vocab;
        model["merges"] = new JsonArray(merges);
        return full.ToJsonString();
    }

    [Fact]
    public void The_small_seed_round_trips_text()
    {
        var path = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(path, Seed);
        var tok = LlamaTokenizer.FromTokenizerJson(path);
        var ids = tok.Encode(Sample);
        Assert.Equal(1000, ids[0]);   // <|begin_of_text|> from the post-processor
        Assert.Equal(Sample, tok.Decode(ids[1..]));
        Assert.Contains(tok.SpecialTokenId("<|eot_id|>")!.Value, ids);
    }

    [Fact]
    public void Mutated_tokenizer_json_loads_or_is_refused_with_a_clear_error()
    {
        var path = Path.Combine(_dir, "tokenizer.json");
        FuzzCase.Files("tokenizer.json", Mutations.JsonDocument(Seed), path, () =>
        {
            var tok = LlamaTokenizer.FromTokenizerJson(path);
            var ids = tok.Encode(Sample);
            Assert.All(ids, id => Assert.InRange(id, 0, tok.VocabSize - 1));
            tok.Decode(ids);
        }, output.WriteLine);
    }

    [Fact]
    public void Any_text_round_trips_through_the_small_tokenizer()
    {
        var path = Path.Combine(_dir, "tokenizer.json");
        File.WriteAllText(path, Seed);
        var tok = LlamaTokenizer.FromTokenizerJson(path);
        // Byte-level BPE encodes every string of valid UTF-16; special-token text is left out (it encodes as one token).
        Gen.String.Where(s => !s.Contains("<|") && !HasLoneSurrogate(s)).Sample(s =>
            Assert.Equal(s, tok.Decode(tok.Encode(s, addBos: false))), iter: Math.Min(FuzzCase.Iter, 2000), threads: 1);
    }

    private static bool HasLoneSurrogate(string s)
    {
        for (int i = 0; i < s.Length; i++)
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(s[i])) return true;
        return false;
    }
}
