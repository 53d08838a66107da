using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;

namespace FinQLora.Serving;

/// <summary>
/// Microsoft.Extensions.AI's <see cref="IChatClient"/> over a <see cref="ServingEngine"/>: messages are rendered
/// with the Llama-3.1 chat format (<see cref="Text.ChatFormat"/>), <see cref="ChatOptions.ModelId"/> picks the
/// adapter (null or the base name: no adapter), and MaxOutputTokens, Temperature, TopP, StopSequences and Seed
/// decode as the HTTP server's fields do. Calls from many threads batch together in the engine.
/// <see cref="ChatOptions.Instructions"/> becomes the system message when the messages carry none.
/// Refusals are <see cref="ServingException"/>s.
/// </summary>
public sealed class FinQLoraChatClient(ServingEngine engine) : IChatClient
{
    private readonly ChatClientMetadata _metadata = new("finqlora", null, engine.Model.BaseId);

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        var result = await CompletionStream.Complete(engine, request, cancellationToken).ConfigureAwait(false);
        return new ChatResponse(new AiChatMessage(ChatRole.Assistant, result.Text))
        {
            ModelId = request.Model,
            ResponseId = NewId(),
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = Reason(result.Finish),
            Usage = Usage(result),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var request = Request(messages, options);
        string id = NewId();
        var created = DateTimeOffset.UtcNow;
        await foreach (var chunk in CompletionStream.Run(engine, request, cancellationToken).ConfigureAwait(false))
        {
            var update = new ChatResponseUpdate(ChatRole.Assistant, chunk.Text) { ModelId = request.Model, ResponseId = id, MessageId = id, CreatedAt = created };
            if (chunk.Finish is { } finish)
            {
                update.FinishReason = Reason(finish);
                update.Contents.Add(new UsageContent(Usage(chunk)));
            }
            yield return update;
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null ? null
        : serviceType == typeof(ChatClientMetadata) ? _metadata
        : serviceType.IsInstanceOfType(this) ? this
        : serviceType == typeof(ServingEngine) ? engine
        : null;

    private CompletionRequest Request(IEnumerable<AiChatMessage> messages, ChatOptions? options)
    {
        var list = messages.Select(m => new Text.ChatMessage(m.Role.Value, m.Text)).ToList();
        if (options?.Instructions is { Length: > 0 } instructions && list.All(m => m.Role != "system"))
            list.Insert(0, new Text.ChatMessage("system", instructions));
        var ids = engine.Model.EncodeChat(list);
        return engine.Model.CreateRequest(options?.ModelId, ids, new SamplingRequest(options?.MaxOutputTokens, options?.Temperature, options?.TopP,
            options?.Seed, options?.StopSequences?.ToList()));
    }

    private static AiFinishReason? Reason(FinishReason? r) => r switch
    {
        FinishReason.Stop => AiFinishReason.Stop,
        FinishReason.Length => AiFinishReason.Length,
        _ => null,
    };

    private static UsageDetails Usage(CompletionChunk c) =>
        new() { InputTokenCount = c.PromptTokens, OutputTokenCount = c.CompletionTokens, TotalTokenCount = c.PromptTokens + c.CompletionTokens };

    private static string NewId() => "chatcmpl-" + Guid.NewGuid().ToString("N");

    /// <summary>The engine belongs to whoever made it (one engine may serve several clients and the HTTP server).</summary>
    public void Dispose() { }
}
