using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

public class TokenizerDecodingTests
{
    private static readonly Lazy<LlamaTokenizer> Fixture = new(() => LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel));
    private static readonly Lazy<LlamaTokenizer> Meta = new(LlamaTokenizer.Llama3);

    /// <summary>The fixture's id for a single byte: tokenizer.json writes byte b as GPT-2's printable stand-in character.</summary>
    private static readonly Lazy<int[]> ByteIds = new(() =>
    {
        var vocab = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.TinyModel, "tokenizer.json")))!["model"]!["vocab"]!.AsObject();
        var ids = new int[256];
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            ids[b] = vocab[((char)(printable ? b : 256 + n++)).ToString()]!.GetValue<int>();
        }
        return ids;
    });

    private static string DecodeBytes(params byte[] bytes) => Fixture.Value.Decode(bytes.Select(b => ByteIds.Value[b]));

    [Fact]
    public void Single_byte_tokens_decode_to_their_utf8_text()
    {
        Assert.Equal("€", DecodeBytes(0xE2, 0x82, 0xAC));
        Assert.Equal("A b", DecodeBytes(0x41, 0x20, 0x62));
    }

    // Hugging Face's ByteLevel decoder uses Rust's String::from_utf8_lossy: one U+FFFD per maximal invalid subsequence.
    [Theory]
    [InlineData(new byte[] { 0xE2, 0x82 }, "\uFFFD")]              // truncated 3-byte sequence: one replacement
    [InlineData(new byte[] { 0xE2, 0x82, 0x41 }, "\uFFFDA")]
    [InlineData(new byte[] { 0xFF, 0x41 }, "\uFFFDA")]             // never valid in UTF-8
    [InlineData(new byte[] { 0x80, 0x80 }, "\uFFFD\uFFFD")]        // each lone continuation byte is replaced
    [InlineData(new byte[] { 0xF0, 0x9F, 0x9A }, "\uFFFD")]        // a cut-off emoji
    [InlineData(new byte[] { 0xED, 0xA0, 0x80 }, "\uFFFD\uFFFD\uFFFD")] // an encoded surrogate is invalid byte by byte
    public void Invalid_utf8_decodes_to_replacement_characters_like_transformers(byte[] bytes, string expected)
    {
        Assert.Equal(expected, DecodeBytes(bytes));
    }

    [Fact]
    public void Special_tokens_decode_to_their_text_unless_skipped()
    {
        var t = Meta.Value;
        int[] ids = [128000, 9906, 128009];   // <|begin_of_text|> "Hello" <|eot_id|>
        Assert.Equal("<|begin_of_text|>Hello<|eot_id|>", t.Decode(ids));
        Assert.Equal("Hello", t.Decode(ids, skipSpecialTokens: true));
    }

    private static readonly Gen<string> Texts =
        Gen.OneOf(
            Gen.Int[0x20, 0x7E],                       // ASCII
            Gen.Int[0, 5].Select(i => new[] { 0x09, 0x0A, 0x0D, 0x20, 0xA0, 0x3000 }[i]),   // whitespace kinds
            Gen.Int[0xC0, 0x24F],                      // Latin with accents
            Gen.Int[0x4E00, 0x9FFF],                   // CJK
            Gen.Int[0x1F300, 0x1FAFF],                 // emoji (surrogate pairs in .NET strings)
            Gen.Int[0x0300, 0x036F])                   // combining marks
        .Array[0, 40]
        .Select(cps => string.Concat(cps.Select(char.ConvertFromUtf32)));

    [Fact]
    public void Encode_then_decode_gives_the_text_back_for_the_bundled_tokenizer()
    {
        var t = Meta.Value;
        Texts.Sample(text => t.Decode(t.Encode(text, addBos: false)) == text, iter: 2000);
    }

    [Fact]
    public void Encode_then_decode_gives_the_text_back_for_tokenizer_json()
    {
        var t = Fixture.Value;
        Texts.Sample(text => t.Decode(t.Encode(text, addBos: false)) == text, iter: 2000);
    }

    [Fact]
    public void Special_token_text_round_trips_as_one_token()
    {
        var t = Meta.Value;
        var ids = t.Encode("a<|eot_id|>b<|start_header_id|>", addBos: false);
        Assert.Equal(2, ids.Count(i => t.IsSpecial(i)));
        Assert.Equal("a<|eot_id|>b<|start_header_id|>", t.Decode(ids));
        Assert.Equal("ab", t.Decode(ids, skipSpecialTokens: true));
    }
}
