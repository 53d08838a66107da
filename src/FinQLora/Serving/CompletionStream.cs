using System.Runtime.CompilerServices;

namespace FinQLora.Serving;

/// <summary>
/// A request's text as it is generated: submits to the engine, decodes the tokens into pieces
/// (<see cref="TextAssembler"/>) and ends with a chunk that carries the finish reason and the token counts.
/// A stop sequence, the caller's cancellation, or the caller leaving the loop early cancels the
/// generation, which frees its batch row.
/// </summary>
public static class CompletionStream
{
    public static async IAsyncEnumerable<CompletionChunk> Run(ServingEngine engine, CompletionRequest request,
        [EnumeratorCancellation] CancellationToken cancel = default)
    {
        using var generation = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var g = engine.Submit(request, generation.Token);
        var text = new TextAssembler(engine.Model.Bundle.Tokenizer, request.StopSequences);
        int prompt = request.PromptIds.Length, count = 0;
        try
        {
            await foreach (var token in g.Tokens.ReadAllAsync(cancel))
            {
                count++;
                var piece = text.Add(token);
                if (text.Stopped)
                {
                    await generation.CancelAsync();
                    yield return new CompletionChunk(piece, FinishReason.Stop, prompt, count);
                    yield break;
                }
                if (piece.Length > 0) yield return new CompletionChunk(piece, null, prompt, count);
            }
        }
        finally
        {
            if (g.Finish is null) await generation.CancelAsync();   // left early: free the row
        }
        yield return new CompletionChunk(text.Flush(), g.Finish, prompt, count);
    }

    /// <summary>The whole completion at once: its text, finish reason and token counts.</summary>
    public static async Task<CompletionChunk> Complete(ServingEngine engine, CompletionRequest request, CancellationToken cancel = default)
    {
        var all = new System.Text.StringBuilder();
        CompletionChunk? last = null;
        await foreach (var chunk in Run(engine, request, cancel))
        {
            all.Append(chunk.Text);
            last = chunk;
        }
        return last! with { Text = all.ToString() };
    }
}
