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
}
