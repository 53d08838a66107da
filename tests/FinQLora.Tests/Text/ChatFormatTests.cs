using FinQLora.Text;

namespace FinQLora.Tests.Text;

public class ChatFormatTests
{
    [Fact]
    public void Rendering_equals_the_official_template_as_transformers_applies_it()
    {
        foreach (var entry in Fixtures.Expected["chat"]!.AsArray())
        {
            var messages = entry!["messages"]!.AsArray().Select(m => new ChatMessage(m!["role"]!.GetValue<string>(), m["content"]!.GetValue<string>())).ToList();
            Assert.Equal(entry["text"]!.GetValue<string>(), ChatFormat.Render(messages, addGenerationPrompt: true));
        }
    }

    [Fact]
    public void Without_generation_prompt_the_text_ends_with_the_last_turn()
    {
        var text = ChatFormat.Render([new ChatMessage("user", "Q"), new ChatMessage("assistant", " A ")], addGenerationPrompt: false);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>", text);
    }

    private const string SystemHead =
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n";

    [Fact]
    public void A_system_message_is_trimmed_and_follows_the_dates()
    {
        var text = ChatFormat.Render([new ChatMessage("system", "\n Be brief. \n"), new ChatMessage("user", "Hi")], addGenerationPrompt: false);
        Assert.Equal(SystemHead + "Be brief.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", text);
    }

    [Fact]
    public void A_later_system_message_is_rendered_as_its_own_turn()
    {
        var text = ChatFormat.Render([new ChatMessage("user", "a"), new ChatMessage("system", "b")], addGenerationPrompt: false);
        Assert.Equal(SystemHead + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\na<|eot_id|><|start_header_id|>system<|end_header_id|>\n\nb<|eot_id|>", text);
    }

    [Fact]
    public void No_messages_still_gives_the_system_block()
    {
        Assert.Equal(SystemHead + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", ChatFormat.Render([], addGenerationPrompt: true));
    }

    [Fact]
    public void An_unknown_role_is_an_error_naming_it()
    {
        var e = Assert.Throws<FinQLoraException>(() => ChatFormat.Render([new ChatMessage("tool", "x")], addGenerationPrompt: true));
        Assert.Contains("'tool'", e.Message);
    }

    [Fact]
    public void Rendered_chat_encodes_to_llama31_prompt_ids_with_one_bos()
    {
        // The ids Llama-3.1-Instruct prompts start with (system header, dates, empty system, user header).
        int[] expected = [128000, 128006, 9125, 128007, 271, 38766, 1303, 33025, 2696, 25, 6790, 220, 2366, 18, 198,
            15724, 2696, 25, 220, 1627, 10263, 220, 2366, 19, 271, 128009, 128006, 882, 128007, 271];
        var ids = LlamaTokenizer.Llama3().Encode(ChatFormat.Render([new ChatMessage("user", "Hi")], addGenerationPrompt: true), addBos: false);
        Assert.Equal(expected, ids[..expected.Length]);
        Assert.Equal(new[] { 128009, 128006, 78191, 128007, 271 }, ids[^5..]);   // <|eot_id|> assistant header "\n\n"
        Assert.Single(ids, 128000);
    }
}
