namespace FinQLora.Text;

// API CONTRACT (skeleton): the tokenizer work fills in the body.
/// <summary>A chat message: role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>The official Llama-3.1 Instruct chat rendering (no tools), see docs.</summary>
public static class ChatFormat
{
    /// <summary>
    /// Renders messages as the Llama-3.1 template does, starting with &lt;|begin_of_text|&gt; and the
    /// system block (always emitted); with <paramref name="addGenerationPrompt"/> it ends with the
    /// assistant header, ready for the answer.
    /// </summary>
    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) => throw new NotImplementedException();
}
