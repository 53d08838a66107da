using System.Text;
using System.Text.Json;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

/// <summary>
/// Llama 3's tokenizer.json as transformers' TikTokenConverter writes it from Meta's tokenizer.model,
/// rebuilt here from the bundled file: every split of a token into two vocabulary tokens is a merge
/// (~280k merges, several per token, a part sometimes ranked after the result), sorted by the result's
/// rank. Loading it must give the same tokenizer as tokenizer.model.
/// </summary>
public class Llama3TokenizerJsonTests
{
    private static readonly Lazy<LlamaTokenizer> Rebuilt = new(Load);

    private static LlamaTokenizer Load()
    {
        var dir = Fixtures.TempDir();
        File.WriteAllBytes(Path.Combine(dir, "tokenizer.json"), TokenizerJson());
        File.WriteAllText(Path.Combine(dir, "config.json"), """{"eos_token_id": [128001, 128008, 128009]}""");
        return LlamaTokenizer.FromModelDirectory(dir);
    }

    private static byte[] TokenizerJson()
    {
        var byteChar = new char[256];
        for (int b = 0, n = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            byteChar[b] = (char)(printable ? b : 256 + n++);
        }
        var ranks = new Dictionary<string, int>();
        using (var reader = new StreamReader(BundledTokenizer.Open()))
            for (string? line; (line = reader.ReadLine()) is { Length: > 0 };)
            {
                var parts = line.Split(' ');
                ranks[string.Concat(Convert.FromBase64String(parts[0]).Select(b => byteChar[b]))] = int.Parse(parts[1]);
            }

        var merges = new List<(string L, string R, int Rank, int RankL, int RankR)>();
        foreach (var (token, rank) in ranks)
        {
            for (int i = 1; i < token.Length; i++)
                if (ranks.TryGetValue(token[..i], out var rl) && ranks.TryGetValue(token[i..], out var rr))
                    merges.Add((token[..i], token[i..], rank, rl, rr));
        }
        merges.Sort((x, y) => (x.Rank, x.RankL, x.RankR).CompareTo((y.Rank, y.RankL, y.RankR)));

        var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartArray("added_tokens");
            foreach (var (content, id) in LlamaTokenizer.Llama31SpecialTokens(128000))
            {
                w.WriteStartObject();
                w.WriteNumber("id", id);
                w.WriteString("content", content);
                w.WriteBoolean("special", true);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WritePropertyName("pre_tokenizer");
            JsonDocument.Parse($$"""
                {"type": "Sequence", "pretokenizers": [
                  {"type": "Split", "pattern": {"Regex": {{JsonSerializer.Serialize(LlamaTokenizer.Llama3Pattern)}}}, "behavior": "Isolated", "invert": false},
                  {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
                """).WriteTo(w);
            w.WritePropertyName("post_processor");
            JsonDocument.Parse("""
                {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}]}
                """).WriteTo(w);
            w.WriteStartObject("model");
            w.WriteString("type", "BPE");
            w.WriteBoolean("ignore_merges", true);
            w.WriteStartObject("vocab");
            foreach (var (token, rank) in ranks) w.WriteNumber(token, rank);
            w.WriteEndObject();
            w.WriteStartArray("merges");
            foreach (var m in merges) w.WriteStringValue($"{m.L} {m.R}");   // the "a b" form (the fixture has pairs)
            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return stream.ToArray();
    }

    [Fact]
    public void Rebuilt_tokenizer_json_reproduces_llama_cpp_vectors()
    {
        var t = Rebuilt.Value;
        foreach (var v in LlamaTokenizerTests.LlamaCppVectors())
            Assert.True(((string)v[2]).Trim() == string.Join(' ', t.Encode((string)v[1], addBos: false)), $"case {v[0]}: {v[1]}");
    }

    [Fact]
    public void Rebuilt_tokenizer_json_has_llama31_ids()
    {
        var t = Rebuilt.Value;
        Assert.Equal(128000, t.BosId);
        Assert.Equal(128009, t.EotId);
        Assert.Equal(128004, t.PadId);
        Assert.Equal(128256, t.VocabSize);
        Assert.Equal(new[] { 128001, 128008, 128009 }, t.StopIds.Order());
        var chat = ChatFormat.Render([new ChatMessage("user", "Was revenue up?")], addGenerationPrompt: true);
        Assert.Equal(LlamaTokenizer.Llama3().Encode(chat, addBos: false), t.Encode(chat, addBos: false));
    }

    [Fact]
    public void Rebuilt_file_has_several_merges_per_token_and_parts_ranked_after_results()
    {
        // Guards the test itself: the rebuilt file must have the shapes the loader has to accept.
        using var doc = JsonDocument.Parse(TokenizerJson());
        var vocab = doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        int merges = 0, laterPart = 0;
        foreach (var m in doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray())
        {
            var s = m.GetString()!;
            int space = s.IndexOf(' ', 1);
            string a = s[..space], b = s[(space + 1)..];
            int id = vocab[a + b];
            if (vocab[a] > id || vocab[b] > id) laterPart++;
            merges++;
        }
        Assert.True(merges > 200_000, $"{merges} merges");
        Assert.True(laterPart > 0);
    }
}
