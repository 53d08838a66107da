using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CsCheck;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

/// <summary>
/// LlamaTokenizer runs tokenizer.json through tiktoken-style ranks (merge the adjacent pair whose
/// concatenation has the lowest id). Hugging Face's BPE merges the pair that comes first in
/// model.merges. This test writes the Hugging Face algorithm out plainly and checks both agree on
/// random texts made of the fixture vocabulary's pieces.
/// </summary>
public class ReferenceBpeTests
{
    private sealed class HuggingFaceBpe
    {
        private readonly Dictionary<string, int> _vocab = [];
        private readonly Dictionary<(string, string), int> _mergeRank = [];
        private readonly Dictionary<string, int> _added = [];
        private readonly Regex _split;
        public readonly char[] ByteChar = new char[256];

        public HuggingFaceBpe(string tokenizerJson)
        {
            var json = JsonNode.Parse(File.ReadAllText(tokenizerJson))!;
            foreach (var (token, id) in json["model"]!["vocab"]!.AsObject()) _vocab[token] = id!.GetValue<int>();
            int rank = 0;
            foreach (var m in json["model"]!["merges"]!.AsArray()) _mergeRank[(m![0]!.GetValue<string>(), m[1]!.GetValue<string>())] = rank++;
            foreach (var a in json["added_tokens"]!.AsArray()) _added[a!["content"]!.GetValue<string>()] = a["id"]!.GetValue<int>();
            _split = new Regex(json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"]!.GetValue<string>());
            int n = 0;
            for (int b = 0; b < 256; b++)
            {
                bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
                ByteChar[b] = (char)(printable ? b : 256 + n++);
            }
        }

        public IEnumerable<string> VocabTokens => _vocab.Keys;

        public List<int> Encode(string text)
        {
            var ids = new List<int>();
            int start = 0;
            for (int i = 0; i <= text.Length; i++)
            {
                var special = i < text.Length ? _added.Keys.Where(s => string.CompareOrdinal(text, i, s, 0, s.Length) == 0).MaxBy(s => s.Length) : null;
                if (i < text.Length && special is null) continue;
                EncodeOrdinary(text[start..i], ids);
                if (special is null) break;
                ids.Add(_added[special]);
                i += special.Length - 1;
                start = i + 1;
            }
            return ids;
        }

        private void EncodeOrdinary(string text, List<int> ids)
        {
            foreach (Match piece in _split.Matches(text))
            {
                var chars = string.Concat(Encoding.UTF8.GetBytes(piece.Value).Select(b => ByteChar[b]));
                if (_vocab.TryGetValue(chars, out var whole)) { ids.Add(whole); continue; }   // ignore_merges
                var parts = chars.Select(c => c.ToString()).ToList();
                while (true)
                {
                    int best = -1, bestRank = int.MaxValue;
                    for (int k = 0; k + 1 < parts.Count; k++)
                        if (_mergeRank.TryGetValue((parts[k], parts[k + 1]), out var r) && r < bestRank) { bestRank = r; best = k; }
                    if (best < 0) break;
                    parts[best] += parts[best + 1];
                    parts.RemoveAt(best + 1);
                }
                ids.AddRange(parts.Select(p => _vocab[p]));
            }
        }
    }

    private static readonly Lazy<HuggingFaceBpe> Reference = new(() => new HuggingFaceBpe(Path.Combine(Fixtures.TinyModel, "tokenizer.json")));

    [Fact]
    public void Reference_reproduces_the_transformers_fixture()
    {
        foreach (var entry in Fixtures.Expected["tokens"]!.AsArray())
            Assert.Equal(Fixtures.Ints(entry!["ids_no_special"]), Reference.Value.Encode(entry["text"]!.GetValue<string>()));
    }

    [Fact]
    public void Tiktoken_ranks_merge_like_hugging_face_on_random_texts()
    {
        var reference = Reference.Value;
        var tokenizer = LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel);
        var byteOf = Enumerable.Range(0, 256).ToDictionary(b => reference.ByteChar[b], b => (byte)b);
        // Fragments: every vocabulary entry that is whole UTF-8 text, plus a few characters the vocabulary lacks.
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        var fragments = new List<string> { "€", "北京", "🚀", "\u00A0", "\r\n", "'S", "<|eot_id|>", "ß" };
        foreach (var token in reference.VocabTokens)
        {
            try { fragments.Add(strict.GetString(token.Select(c => byteOf[c]).ToArray())); }
            catch (DecoderFallbackException) { }
        }
        Gen.Int[0, fragments.Count - 1].Array[1, 12]
            .Select(ix => string.Concat(ix.Select(i => fragments[i])))
            .Sample(text => reference.Encode(text).SequenceEqual(tokenizer.Encode(text, addBos: false)), iter: 5000);
    }
}
