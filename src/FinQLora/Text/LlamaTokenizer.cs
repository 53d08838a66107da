using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using FinQLora.IO;
using Microsoft.ML.Tokenizers;

namespace FinQLora.Text;

/// <summary>
/// The Llama-3 byte-level BPE tokenizer, from a Hugging Face tokenizer.json or Meta's tiktoken
/// tokenizer.model, on Microsoft.ML.Tokenizers' TiktokenTokenizer. Special tokens written in the
/// text (e.g. "&lt;|eot_id|&gt;") are recognised as single tokens, as transformers does.
/// </summary>
/// <remarks>
/// A tokenizer.json's BPE is turned into a tiktoken rank table (rank = token id). Tiktoken merges the
/// adjacent pair whose concatenation has the lowest rank and looks a whole pre-tokenized piece up
/// first; for vocabularies whose ids follow merge order (Llama 3's, and what Hugging Face's BPE
/// trainer writes) that is exactly Hugging Face's BPE with ignore_merges. <see cref="FromTokenizerJson"/>
/// checks the ordering and refuses a file where it does not hold.
/// </remarks>
public sealed class LlamaTokenizer
{
    public const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private readonly TiktokenTokenizer _bpe;
    private readonly Dictionary<string, int> _special;
    private readonly HashSet<int> _specialIds;
    private readonly HashSet<int> _stopIds;

    public int VocabSize { get; }
    public int BosId { get; }
    public int EotId { get; }
    public int PadId { get; }
    public IReadOnlySet<int> StopIds => _stopIds;
    public IReadOnlyDictionary<string, int> SpecialTokens => _special;

    private LlamaTokenizer(TiktokenTokenizer bpe, Dictionary<string, int> special, int vocabSize, int bosId, IEnumerable<int> extraStops)
    {
        _bpe = bpe;
        _special = special;
        _specialIds = special.Values.ToHashSet();
        VocabSize = vocabSize;
        BosId = bosId;
        EotId = special.TryGetValue("<|eot_id|>", out var eot) ? eot : special.GetValueOrDefault("<|end_of_text|>", -1);
        PadId = special.TryGetValue("<|finetune_right_pad_id|>", out var pad) ? pad : special.GetValueOrDefault("<|end_of_text|>", 0);
        _stopIds = new[] { "<|end_of_text|>", "<|eom_id|>", "<|eot_id|>" }.Where(special.ContainsKey).Select(t => special[t]).Concat(extraStops).ToHashSet();
    }

    /// <summary>Loads tokenizer.json (+ tokenizer_config.json, config.json's eos ids) from a model folder, else tokenizer.model.</summary>
    public static LlamaTokenizer FromModelDirectory(string dir)
    {
        if (!Directory.Exists(dir)) throw new FinQLoraException($"{dir}: model folder not found");
        var extraStops = ReadConfigEos(Path.Combine(dir, "config.json"));
        var json = Path.Combine(dir, "tokenizer.json");
        if (File.Exists(json)) return FromTokenizerJson(json, Path.Combine(dir, "tokenizer_config.json"), extraStops);
        var model = Path.Combine(dir, "tokenizer.model");
        if (File.Exists(model)) return FromTiktokenModel(model, extraStops);
        throw new FinQLoraException($"{dir}: no tokenizer.json or tokenizer.model");
    }

    /// <summary>The Llama-3 tokenizer bundled with FinQLora (Meta's tokenizer.model).</summary>
    public static LlamaTokenizer Llama3()
    {
        using var stream = BundledTokenizer.Open();
        return FromTiktokenStream(stream, "bundled tokenizer.model", []);
    }

    public const long MaxTiktokenBytes = 64L << 20;

    /// <summary>Meta's tokenizer.model (base64 token + rank per line) with Llama-3.1's 256 special tokens after the ranks.</summary>
    public static LlamaTokenizer FromTiktokenModel(string path, IEnumerable<int>? extraStops = null)
    {
        // Llama 3's is 2.2 MB; the whole file is read into memory, so a cap keeps a wrong or hostile file from taking it all
        using var stream = new MemoryStream(InputFile.ReadBytes(path, MaxTiktokenBytes), writable: false);
        return FromTiktokenStream(stream, path, extraStops ?? []);
    }

    private static LlamaTokenizer FromTiktokenStream(Stream stream, string what, IEnumerable<int> extraStops)
    {
        var bytes = new MemoryStream();
        stream.CopyTo(bytes);
        int ranks = 0;
        bytes.Position = 0;
        using (var reader = new StreamReader(bytes, leaveOpen: true))
            for (string? line; (line = reader.ReadLine()) != null;)
            {
                if (line.Length == 0) continue;
                var parts = line.Split(' ');
                if (parts.Length != 2 || !int.TryParse(parts[1], out var rank))
                    throw new FinQLoraException($"{what}: line {ranks + 1} is not 'base64-token rank'");
                ranks = Math.Max(ranks, rank + 1);
            }
        bytes.Position = 0;
        var special = Llama31SpecialTokens(ranks);
        var bpe = Create(bytes, Llama3Pattern, special);
        return new LlamaTokenizer(bpe, special, ranks + special.Count, special["<|begin_of_text|>"], extraStops);
    }

    /// <summary>Llama-3.1's special tokens: ids from <paramref name="first"/> (128000) on, 256 of them.</summary>
    public static Dictionary<string, int> Llama31SpecialTokens(int first)
    {
        string[] named = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>", "<|reserved_special_token_1|>",
            "<|finetune_right_pad_id|>", "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
            "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"];
        var result = new Dictionary<string, int>();
        for (int i = 0; i < 256; i++)
            result[i < named.Length ? named[i] : $"<|reserved_special_token_{i - named.Length + 3}|>"] = first + i;
        return result;
    }

    /// <summary>tokenizer.json files above this size are refused (Llama 3's is 9 MB).</summary>
    public const long MaxTokenizerJsonBytes = 256L << 20;

    /// <summary>Token ids at or above this are refused (Llama 3 has 128,256 tokens).</summary>
    public const int MaxTokenId = 1 << 24;

    public static LlamaTokenizer FromTokenizerJson(string tokenizerJsonPath, string? tokenizerConfigPath = null, IEnumerable<int>? extraStops = null)
    {
        using var doc = JsonFile.Parse(InputFile.ReadBytes(tokenizerJsonPath, MaxTokenizerJsonBytes), tokenizerJsonPath);
        var root = doc.RootElement;
        string Where(string what) => $"{tokenizerJsonPath}: {what}";
        if (root.ValueKind != JsonValueKind.Object) throw new FinQLoraException(Where("not a JSON object"));
        if (!root.TryGetProperty("model", out var model) || model.ValueKind != JsonValueKind.Object) throw new FinQLoraException(Where("no \"model\" object"));
        var type = model.TryGetProperty("type", out var t) ? JsonFile.String(t) : null;
        if (type != "BPE") throw new FinQLoraException(Where($"model type '{type}' is not supported (expected a byte-level BPE)"));
        if (!model.TryGetProperty("vocab", out var vocabEl) || vocabEl.ValueKind != JsonValueKind.Object) throw new FinQLoraException(Where("model.vocab is missing"));
        if (!model.TryGetProperty("merges", out var mergesEl) || mergesEl.ValueKind != JsonValueKind.Array || mergesEl.GetArrayLength() == 0)
            throw new FinQLoraException(Where("model.merges is missing or empty: a BPE tokenizer needs its merges"));

        var vocab = new Dictionary<string, int>();
        var owner = new Dictionary<int, string>();
        void AddId(Dictionary<string, int> into, string token, JsonElement idEl, string what)
        {
            if (JsonFile.Int(idEl) is not { } id || id < 0 || id >= MaxTokenId)
                throw new FinQLoraException(Where($"{what} '{token}' has id {Short(idEl)}; ids are integers from 0 to {MaxTokenId - 1}"));
            if (owner.TryGetValue(id, out var other) && other != token)
                throw new FinQLoraException(Where($"tokens '{other}' and '{token}' share id {id}"));
            owner[id] = token;
            into[token] = id;
        }
        foreach (var p in vocabEl.EnumerateObject()) AddId(vocab, p.Name, p.Value, "model.vocab token");
        var special = new Dictionary<string, int>();
        if (root.TryGetProperty("added_tokens", out var added) && added.ValueKind == JsonValueKind.Array)
            foreach (var a in added.EnumerateArray())
            {
                if (a.ValueKind != JsonValueKind.Object || !a.TryGetProperty("content", out var c) || JsonFile.String(c) is not { Length: > 0 } content || !a.TryGetProperty("id", out var idEl))
                    throw new FinQLoraException(Where("each added_tokens entry needs a non-empty \"content\" and an \"id\""));
                if (vocab.TryGetValue(content, out var vocabId)) { vocab.Remove(content); owner.Remove(vocabId); }
                AddId(special, content, idEl, "added token");
            }

        var decoder = ByteLevelDecoder;
        var single = new HashSet<byte>();
        foreach (var token in vocab.Keys)
        {
            if (token.Length == 0) throw new FinQLoraException(Where("model.vocab has an empty token"));
            foreach (var ch in token)
                if (!decoder.ContainsKey(ch)) throw new FinQLoraException(Where($"token '{token}' is not byte-level BPE (character U+{(int)ch:X4})"));
            if (token.Length == 1) single.Add(decoder[token[0]]);
        }
        if (single.Count < 256)
            throw new FinQLoraException(Where($"model.vocab lacks {256 - single.Count} of the 256 single-byte tokens (e.g. byte 0x{Enumerable.Range(0, 256).First(b => !single.Contains((byte)b)):X2}); a byte-level BPE needs all of them"));
        CheckMergeOrder(tokenizerJsonPath, vocab, mergesEl);
        var ranks = new MemoryStream();
        using (var w = new StreamWriter(ranks, new UTF8Encoding(false), leaveOpen: true))
            foreach (var (token, id) in vocab.OrderBy(kv => kv.Value))
            {
                var raw = new byte[token.Length];
                for (int i = 0; i < token.Length; i++) raw[i] = decoder[token[i]];
                w.Write(Convert.ToBase64String(raw));
                w.Write(' ');
                w.Write(id.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.Write('\n');
            }
        ranks.Position = 0;
        var bpe = Create(ranks, PreTokenizerPattern(tokenizerJsonPath, root) ?? Llama3Pattern, special, tokenizerJsonPath);
        int vocabSize = Math.Max(vocab.Values.DefaultIfEmpty(-1).Max(), special.Values.DefaultIfEmpty(-1).Max()) + 1;
        int bos = BosFromPostProcessor(root, special) ?? BosFromConfig(tokenizerConfigPath, special)
                  ?? special.GetValueOrDefault("<|begin_of_text|>", -1);
        if (bos < 0) throw new FinQLoraException(Where("no BOS token found (post_processor, tokenizer_config.json bos_token, or <|begin_of_text|>)"));
        var stops = (extraStops ?? []).Concat(EosFromConfig(tokenizerConfigPath, special));
        return new LlamaTokenizer(bpe, special, vocabSize, bos, stops);
    }

    private static string Short(JsonElement e) => e.GetRawText() is var s && s.Length > 40 ? s[..40] + "…" : e.GetRawText();

    public int[] Encode(string text, bool addBos = true)
    {
        IReadOnlyList<int> ids;
        try { ids = _bpe.EncodeToIds(text); }
        catch (RegexMatchTimeoutException) { throw new FinQLoraException($"the tokenizer's pre-tokenizer regex took over {RegexTimeout.TotalSeconds} s on one text (a pattern with catastrophic backtracking?)"); }
        if (!addBos) return ids.ToArray();
        var result = new int[ids.Count + 1];
        result[0] = BosId;
        for (int i = 0; i < ids.Count; i++) result[i + 1] = ids[i];
        return result;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        _bpe.Decode(skipSpecialTokens ? ids.Where(i => !_specialIds.Contains(i)) : ids);

    public int? SpecialTokenId(string token) => _special.TryGetValue(token, out var id) ? id : null;

    public bool IsSpecial(int id) => _specialIds.Contains(id);

    /// <summary>A pre-tokenizer regex match that takes longer than this is an error, not a hang.</summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromSeconds(2);

    // Compiling a regex takes tens of milliseconds; tokenizers are loaded again and again with the same few patterns.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Regex> Regexes = new();

    private static Regex CompiledRegex(string pattern)
    {
        if (Regexes.TryGetValue(pattern, out var cached)) return cached;
        var regex = new Regex(pattern, RegexOptions.Compiled, RegexTimeout);
        if (Regexes.Count < 16) Regexes.TryAdd(pattern, regex);
        return regex;
    }

    /// <summary>Whether the pattern matches zero characters anywhere in a probe of every kind of character (the tokenizer library would loop).</summary>
    private static bool MatchesEmptyText(Regex regex)
    {
        const string probe = "The cat's 12345 x\r\n\t  é中😀 .,;-_'\"()[]{}<|eot_id|>\u00a0\u2028 end";
        try
        {
            if (regex.Match("") is { Success: true }) return true;
            for (var m = regex.Match(probe); m.Success; m = m.NextMatch())
                if (m.Length == 0) return true;
            return false;
        }
        catch (RegexMatchTimeoutException) { throw new FinQLoraException($"the tokenizer's pre-tokenizer regex took over {RegexTimeout.TotalSeconds} s on a short probe text (catastrophic backtracking?)"); }
    }

    private static TiktokenTokenizer Create(Stream ranks, string pattern, Dictionary<string, int> special, string what = "the bundled tokenizer")
    {
        Regex regex;
        try { regex = CompiledRegex(pattern); }
        catch (ArgumentException e) { throw new FinQLoraException($"{what}: the pre-tokenizer regex is not supported: {JsonFile.OneLine(e.Message)}"); }
        if (MatchesEmptyText(regex))
            throw new FinQLoraException($"{what}: the pre-tokenizer regex can match empty text, so splitting would never advance (an empty alternative like 'a||b', or a '*' that should be '+')");
        // The ranks and special tokens were checked above; this guards the library's own parsing of them.
        try { return TiktokenTokenizer.Create(ranks, new RegexPreTokenizer(regex, special), null, special, cacheSize: 65536); }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or KeyNotFoundException)
        { throw new FinQLoraException($"{what}: the vocabulary cannot be used ({JsonFile.OneLine(e.Message)})"); }
    }

    /// <summary>
    /// Tiktoken merges the adjacent pair whose concatenation has the lowest rank (id); HF merges the pair listed
    /// first. The two agree when the merges' results never go down in id. Several merges may share a result
    /// (converters from tiktoken, as for Llama 3's tokenizer.json, list every split of a token), and a part may
    /// have a larger id than the result (" " + "   " for "    "), so neither is refused.
    /// </summary>
    private static void CheckMergeOrder(string path, Dictionary<string, int> vocab, JsonElement merges)
    {
        int previous = -1, index = 0;
        foreach (var m in merges.EnumerateArray())
        {
            string a, b;
            if (JsonFile.String(m) is { } s)
            {
                int space = s.Length < 3 ? -1 : s.IndexOf(' ', 1);
                if (space < 0) throw new FinQLoraException($"{path}: merge {index} '{s}' is not 'a b'");
                a = s[..space]; b = s[(space + 1)..];
            }
            else if (m.ValueKind == JsonValueKind.Array && m.GetArrayLength() == 2 && JsonFile.String(m[0]) is { } first && JsonFile.String(m[1]) is { } second)
            {
                a = first; b = second;
            }
            else throw new FinQLoraException($"{path}: merge {index} is neither \"a b\" nor [a, b]");
            if (!vocab.TryGetValue(a + b, out var id) || !vocab.ContainsKey(a) || !vocab.ContainsKey(b))
                throw new FinQLoraException($"{path}: merge {index} ('{a}', '{b}') refers to tokens missing from the vocab");
            if (id < previous)
                throw new FinQLoraException($"{path}: merge {index} ('{a}', '{b}') is out of id order; FinQLora supports BPE vocabularies whose ids follow merge order (as Llama 3's do)");
            previous = id;
            index++;
        }
    }

    private static string? PreTokenizerPattern(string path, JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object) return null;
        IEnumerable<JsonElement> steps = pre.TryGetProperty("pretokenizers", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : [pre];
        foreach (var step in steps)
            if (step.ValueKind == JsonValueKind.Object && step.TryGetProperty("type", out var ty) && JsonFile.String(ty) == "Split"
                && step.TryGetProperty("pattern", out var pat) && pat.ValueKind == JsonValueKind.Object && pat.TryGetProperty("Regex", out var rx))
                return JsonFile.String(rx) is { Length: > 0 and <= 10_000 } pattern ? pattern : throw new FinQLoraException($"{path}: the Split pre-tokenizer's Regex must be a non-empty string of at most 10,000 characters");
        return null;
    }

    private static int? BosFromPostProcessor(JsonElement root, Dictionary<string, int> special)
    {
        if (!root.TryGetProperty("post_processor", out var pp) || pp.ValueKind != JsonValueKind.Object) return null;
        IEnumerable<JsonElement> steps = pp.TryGetProperty("processors", out var list) && list.ValueKind == JsonValueKind.Array ? list.EnumerateArray() : [pp];
        foreach (var step in steps)
        {
            if (step.ValueKind != JsonValueKind.Object || !step.TryGetProperty("type", out var ty) || JsonFile.String(ty) != "TemplateProcessing"
                || !step.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array) continue;
            foreach (var piece in single.EnumerateArray())
            {
                if (piece.ValueKind != JsonValueKind.Object) continue;
                if (piece.TryGetProperty("SpecialToken", out var st))
                    return st.ValueKind == JsonValueKind.Object && st.TryGetProperty("id", out var name) && JsonFile.String(name) is { } n && special.TryGetValue(n, out var id) ? id : null;
                if (piece.TryGetProperty("Sequence", out _)) return null;   // the sequence comes first: no BOS
            }
        }
        return null;
    }

    private static int? BosFromConfig(string? configPath, Dictionary<string, int> special)
    {
        var name = ConfigToken(configPath, "bos_token");
        return name is not null && special.TryGetValue(name, out var id) ? id : null;
    }

    private static IEnumerable<int> EosFromConfig(string? configPath, Dictionary<string, int> special)
    {
        var name = ConfigToken(configPath, "eos_token");
        return name is not null && special.TryGetValue(name, out var id) ? [id] : [];
    }

    private static string? ConfigToken(string? configPath, string key)
    {
        if (configPath is null || !File.Exists(configPath)) return null;
        using var doc = JsonFile.Parse(InputFile.ReadBytes(configPath, JsonFile.MaxConfigBytes), configPath);
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty(key, out var v)) return null;
        return v.ValueKind == JsonValueKind.Object && v.TryGetProperty("content", out var c) ? JsonFile.String(c) : JsonFile.String(v);
    }

    private static IEnumerable<int> ReadConfigEos(string configPath)
    {
        if (!File.Exists(configPath)) return [];
        try
        {
            using var doc = JsonFile.Parse(InputFile.ReadBytes(configPath, JsonFile.MaxConfigBytes), configPath);
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("eos_token_id", out var v)) return [];
            return v.ValueKind switch
            {
                JsonValueKind.Number => JsonFile.Int(v) is { } one ? [one] : [],
                JsonValueKind.Array => v.EnumerateArray().Select(JsonFile.Int).OfType<int>().ToList(),
                _ => [],
            };
        }
        catch (FinQLoraException) { return []; }   // LlamaConfig.Load reports a broken config.json with its own message
    }

    /// <summary>GPT-2's byte-level alphabet: the printable character each byte is written as in tokenizer.json.</summary>
    private static readonly Dictionary<char, byte> ByteLevelDecoder = BuildByteLevelDecoder();

    private static Dictionary<char, byte> BuildByteLevelDecoder()
    {
        var result = new Dictionary<char, byte>();
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            result[(char)(printable ? b : 256 + n++)] = (byte)b;
        }
        return result;
    }
}
