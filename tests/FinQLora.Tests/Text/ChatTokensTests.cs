using System.Text.Json.Nodes;
using FinQLora.Data;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Text;

namespace FinQLora.Tests.Text;

/// <summary>
/// A tokenizer without a control token of the Llama-3 chat format (header tokens, end of turn) is refused,
/// naming the token, wherever prompts are built (training, evaluation, data stats, generate --chat), instead of
/// rendering the token as text or crashing on an index of -1.
/// </summary>
public sealed class ChatTokensTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    [Theory]
    [InlineData("<|start_header_id|>")]
    [InlineData("<|end_header_id|>")]
    [InlineData("<|eot_id|>")]
    public void A_tokenizer_without_a_chat_control_token_is_refused_naming_it(string token)
    {
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(_dir, Path.GetFileName(f)), true);
        var path = Path.Combine(_dir, "tokenizer.json");
        var json = JsonFile.ReadObject(path, 256L << 20);
        var added = json["added_tokens"]!.AsArray();
        added.Remove(added.First(a => a!["content"]!.GetValue<string>() == token));
        File.WriteAllText(path, json.ToJsonString());
        var tokenizer = LlamaTokenizer.FromModelDirectory(_dir);
        Assert.Contains(token, Assert.Throws<FinQLoraException>(() => new PromptEncoder(tokenizer, 512)).Message);
        Assert.Contains(token, Assert.Throws<FinQLoraException>(() => ChatFormat.RequireTokens(tokenizer, "x")).Message);
    }

    [Fact]
    public void The_fixture_tokenizer_has_every_control_token()
    {
        var tokenizer = LlamaTokenizer.FromModelDirectory(Fixtures.TinyModel);
        _ = new PromptEncoder(tokenizer, 512);
        Assert.All(ChatFormat.ControlTokens, t => Assert.NotNull(tokenizer.SpecialTokenId(t)));
    }
}
