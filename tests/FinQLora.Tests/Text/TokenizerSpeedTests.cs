using System.Diagnostics;
using System.Text;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

public class TokenizerSpeedTests
{
    [Fact]
    public void One_megabyte_of_text_encodes_in_well_under_a_second()
    {
        var t = LlamaTokenizer.Llama3();
        t.Encode("warm up the regex and the cache", addBos: false);
        var sb = new StringBuilder();
        var rng = new Random(7);
        string[] words = ["revenue", "rose", "6.345%", "to", "$1,234.5", "million", "in", "2019.", "Äpfel", "über", "北京", "🚀", "don't", "\n\n", "EBITDA", "Q3", "guidance"];
        while (sb.Length < 1_000_000) sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(10) == 0 ? "\n" : " ");
        var text = sb.ToString();
        var clock = Stopwatch.StartNew();
        var ids = t.Encode(text, addBos: false);
        clock.Stop();
        Console.WriteLine($"1 MB: {ids.Length} ids in {clock.ElapsedMilliseconds} ms");
        Assert.Equal(text, t.Decode(ids));
        // The target is well under 1 s; the bound leaves room for a loaded shared test machine.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"encoding 1 MB took {clock.ElapsedMilliseconds} ms");
    }
}
