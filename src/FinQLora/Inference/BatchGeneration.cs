using System.Diagnostics;

namespace FinQLora.Inference;

/// <summary>One prompt's generated text, with its token count and the wall time of the batch it ran in, per row.</summary>
public sealed record GeneratedText(string Text, int NewTokens, double LatencyMs);

/// <summary>
/// Generates for many prompts: sorted by length so each batch pads little, run in batches through
/// <see cref="TextGenerator"/>, returned in the original order.
/// </summary>
public static class BatchGeneration
{
    /// <param name="progress">called after each batch with (rows done, new tokens so far)</param>
    public static IReadOnlyList<GeneratedText> Run(ModelBundle bundle, IReadOnlyList<int[]> prompts, int batchSize,
        GenerationOptions options, Action<int, long>? progress = null)
    {
        if (batchSize < 1) throw new FinQLoraException($"--batch-size must be at least 1, got {batchSize}");
        var order = Enumerable.Range(0, prompts.Count).OrderByDescending(i => prompts[i].Length).ToArray();
        var results = new GeneratedText[prompts.Count];
        long tokens = 0;
        int done = 0;
        for (int start = 0; start < order.Length; start += batchSize)
        {
            var batch = order.Skip(start).Take(batchSize).ToArray();
            var clock = Stopwatch.StartNew();
            var outputs = TextGenerator.Generate(bundle.Model, batch.Select(i => prompts[i]).ToList(), bundle.Tokenizer.StopIds, bundle.Tokenizer.PadId, options);
            double perRow = clock.Elapsed.TotalMilliseconds / batch.Length;
            for (int j = 0; j < batch.Length; j++)
            {
                results[batch[j]] = new GeneratedText(bundle.Tokenizer.Decode(outputs[j].TokenIds, skipSpecialTokens: true), outputs[j].TokenIds.Length, perRow);
                tokens += outputs[j].TokenIds.Length;
            }
            done += batch.Length;
            progress?.Invoke(done, tokens);
        }
        return results;
    }
}
