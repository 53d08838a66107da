using FinQLora.Serving;
using FinQLora.Text;

namespace FinQLora.Tests.Serving;

public sealed class TextAssemblerTests
{
    private static readonly LlamaTokenizer Llama3 = LlamaTokenizer.Llama3();

    private static (List<string> Pieces, TextAssembler Text) Feed(string text, params string[] stops)
    {
        var assembler = new TextAssembler(Llama3, stops);
        var pieces = new List<string>();
        foreach (var id in Llama3.Encode(text, addBos: false))
        {
            pieces.Add(assembler.Add(id));
            if (assembler.Stopped) return (pieces, assembler);
        }
        pieces.Add(assembler.Flush());
        return (pieces, assembler);
    }

    [Fact]
    public void Pieces_join_to_the_text_and_never_split_a_character()
    {
        const string text = "Gewinn 📈 stieg um 4 % — 利润上升";   // characters made of several byte-level tokens
        var (pieces, assembler) = Feed(text);
        Assert.Equal(text, string.Concat(pieces));
        Assert.Equal(text, assembler.Text);
        Assert.All(pieces, p => Assert.DoesNotContain('\uFFFD', p));
    }

    [Fact]
    public void Text_before_a_stop_sequence_is_sent_and_a_partial_match_is_held_back_until_resolved()
    {
        var (pieces, assembler) = Feed("The answer is positive.\nQuestion: next", "\nQuestion:");
        Assert.True(assembler.Stopped);
        Assert.Equal("The answer is positive.", string.Concat(pieces));

        var (unresolved, open) = Feed("Rates fell\nQu", "\nQuestion:");
        Assert.False(open.Stopped);
        Assert.Equal("Rates fell", string.Concat(unresolved.SkipLast(1)));   // "\nQu" waits: it may begin the stop sequence
        Assert.Equal("\nQu", unresolved[^1]);                                 // the end of generation lets it go
    }
}
