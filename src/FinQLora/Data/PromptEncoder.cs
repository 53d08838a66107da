using FinQLora.Text;

namespace FinQLora.Data;

/// <summary>A tokenized training example: ids and labels of equal length (labels −100 where no loss).</summary>
public sealed record TokenizedExample(string Task, string Id, int[] InputIds, int[] Labels, bool Truncated);

/// <summary>How over-long examples are handled: cut the middle of the context (the answer is never cut) or drop them.</summary>
public enum TruncationMode { Left, Drop }

/// <summary>
/// Turns FLARE rows into chat-format token sequences: the query is the user turn of the Llama-3.1
/// Instruct format (with an optional system prompt), the target is the answer followed by
/// &lt;|eot_id|&gt;; the loss covers only the target. An example longer than <see cref="MaxLength"/>
/// loses tokens from the start of its context — the first <see cref="KeepHead"/> tokens of the
/// query (its instruction) stay, a " [...] " marker stands for what was cut, and the end of the query
/// (the question and "Answer:") and the whole answer stay — or, with <see cref="TruncationMode.Drop"/>,
/// is dropped and counted.
/// </summary>
public sealed class PromptEncoder(LlamaTokenizer tokenizer, int maxLength, TruncationMode mode = TruncationMode.Left, string? systemPrompt = null)
{
    public const int KeepHead = 48;

    private readonly bool _checked = Checked(tokenizer);

    private static bool Checked(LlamaTokenizer t)
    {
        ChatFormat.RequireTokens(t, "the model's tokenizer");
        return true;
    }
    public int MaxLength { get; } = maxLength;

    /// <summary>Prompt token ids (everything up to and including the assistant header), as evaluation feeds them.</summary>
    public int[] EncodePrompt(string query) => EncodeParts(query).Prompt;

    /// <summary>The prompt cut to at most <paramref name="budget"/> tokens the same way training cuts contexts.</summary>
    public int[] EncodePrompt(string query, int budget)
    {
        var (prompt, head, body, tail) = EncodeParts(query);
        if (prompt.Length <= budget) return prompt;
        var marker = tokenizer.Encode(" [...] ", addBos: false);
        int keepHead = Math.Min(KeepHead, body.Length);
        int keepTail = Math.Max(0, budget - head.Length - tail.Length - marker.Length - keepHead);
        return [.. head, .. body[..keepHead], .. marker, .. body[(body.Length - Math.Min(keepTail, body.Length - keepHead))..], .. tail];
    }

    /// <summary>The training example, or null when it is too long and the mode is Drop (or even truncation cannot fit it).</summary>
    public TokenizedExample? Encode(FlareRow row)
    {
        var (prompt, head, body, tail) = EncodeParts(row.Query);
        var target = tokenizer.Encode(row.Answer, addBos: false).Append(tokenizer.EotId).ToArray();
        bool truncated = false;
        if (prompt.Length + target.Length > MaxLength)
        {
            if (mode == TruncationMode.Drop) return null;
            var marker = tokenizer.Encode(" [...] ", addBos: false);
            int budget = MaxLength - target.Length - head.Length - tail.Length - marker.Length;
            int keepHead = Math.Min(KeepHead, body.Length);
            int keepTail = budget - keepHead;
            if (keepTail < 0) return null;   // the answer alone does not fit
            prompt = [.. head, .. body[..keepHead], .. marker, .. body[(body.Length - keepTail)..], .. tail];
            truncated = true;
        }
        var ids = prompt.Concat(target).ToArray();
        var labels = Enumerable.Repeat(-100, prompt.Length).Concat(target).ToArray();
        return new TokenizedExample(row.Task, row.Id, ids, labels, truncated);
    }

    /// <summary>Splits the rendered prompt into the chat header, the query's tokens and the footer (eot + assistant header).</summary>
    private (int[] Prompt, int[] Head, int[] Body, int[] Tail) EncodeParts(string query)
    {
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(systemPrompt)) messages.Add(new ChatMessage("system", systemPrompt));
        const string placeholder = "\u0000QUERY\u0000";
        messages.Add(new ChatMessage("user", placeholder));
        var rendered = ChatFormat.Render(messages, addGenerationPrompt: true);
        int at = rendered.IndexOf(placeholder, StringComparison.Ordinal);
        var head = tokenizer.Encode(rendered[..at], addBos: false);
        var tail = tokenizer.Encode(rendered[(at + placeholder.Length)..], addBos: false);
        var body = tokenizer.Encode(query.Trim(), addBos: false);
        return ([.. head, .. body, .. tail], head, body, tail);
    }
}
