using System.Text;

namespace FinQLora.Text;

/// <summary>A chat message: role is "system", "user" or "assistant".</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// The official Llama-3.1 Instruct chat rendering without tools (the template in
/// meta-llama/Llama-3.1-8B-Instruct's tokenizer_config.json): the system block is always emitted
/// with the knowledge/today dates, message contents are trimmed.
/// </summary>
public static class ChatFormat
{
    public const string BeginOfText = "<|begin_of_text|>";
    public const string StartHeader = "<|start_header_id|>";
    public const string EndHeader = "<|end_header_id|>";
    public const string EndOfTurn = "<|eot_id|>";
    public const string DateString = "26 Jul 2024";

    /// <summary>The special tokens a rendered chat is made of; a tokenizer without one of them would encode it as plain text.</summary>
    public static readonly string[] ControlTokens = [StartHeader, EndHeader, EndOfTurn];

    /// <summary>
    /// Refuses a tokenizer that lacks a control token of the chat format (<see cref="ControlTokens"/>), naming it:
    /// prompts would then hold "&lt;|start_header_id|&gt;" as ordinary text, and the training target would end in no
    /// end-of-turn token at all.
    /// </summary>
    public static void RequireTokens(LlamaTokenizer tokenizer, string source)
    {
        foreach (var t in ControlTokens)
            if (tokenizer.SpecialTokenId(t) is null)
                throw new FinQLoraException($"{source}: the tokenizer has no special token {t}, which the Llama-3 chat format needs; use a Llama-3 tokenizer (tokenizer.json with its added_tokens)");
    }

    public static string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var sb = new StringBuilder(BeginOfText);
        string system = "";
        int start = 0;
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            system = messages[0].Content.Trim();
            start = 1;
        }
        sb.Append(StartHeader).Append("system").Append(EndHeader).Append("\n\n")
          .Append("Cutting Knowledge Date: December 2023\n").Append("Today Date: ").Append(DateString).Append("\n\n")
          .Append(system).Append(EndOfTurn);
        for (int i = start; i < messages.Count; i++)
        {
            var m = messages[i];
            if (m.Role is not ("user" or "assistant" or "system"))
                throw new FinQLoraException($"chat message {i}: unknown role '{m.Role}' (expected system, user or assistant)");
            sb.Append(StartHeader).Append(m.Role).Append(EndHeader).Append("\n\n").Append(m.Content.Trim()).Append(EndOfTurn);
        }
        if (addGenerationPrompt) sb.Append(StartHeader).Append("assistant").Append(EndHeader).Append("\n\n");
        return sb.ToString();
    }
}
