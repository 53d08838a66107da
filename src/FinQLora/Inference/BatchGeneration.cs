using System.Diagnostics;

namespace FinQLora.Inference;

/// <summary>One prompt's generated text, with its token count and the wall time of the batch it ran in, per row.</summary>
public sealed record GeneratedText(string Text, int NewTokens, double LatencyMs);

/// <summary>
/// Generates for many prompts: sorted by length so each batch pads little (<see cref="Plan"/>), each batch
/// run through <see cref="TextGenerator"/> (<see cref="RunBatch"/>). The plan depends only on the prompts'
/// lengths and the batch size, so a resumed evaluation forms the same batches as the run it continues.
/// </summary>
public static class BatchGeneration
{
    /// <summary>The batches, as indices into <paramref name="prompts"/>: longest first, ties in input order.</summary>
    public static IReadOnlyList<int[]> Plan(IReadOnlyList<int[]> prompts, int batchSize)
    {
        if (batchSize < 1) throw new FinQLoraException($"--batch-size must be at least 1, got {batchSize}");
        return Enumerable.Range(0, prompts.Count).OrderByDescending(i => prompts[i].Length).Chunk(batchSize).ToList();
    }

    /// <summary>Generates for the prompts of one batch; the results are in <paramref name="batch"/>'s order.</summary>
    public static GeneratedText[] RunBatch(ModelBundle bundle, IReadOnlyList<int[]> prompts, int[] batch, GenerationOptions options)
    {
        var clock = Stopwatch.StartNew();
        var outputs = TextGenerator.Generate(bundle.Model, batch.Select(i => prompts[i]).ToList(), bundle.Tokenizer.StopIds, bundle.Tokenizer.PadId, options);
        double perRow = clock.Elapsed.TotalMilliseconds / batch.Length;
        return outputs.Select(o => new GeneratedText(bundle.Tokenizer.Decode(o.TokenIds, skipSpecialTokens: true), o.TokenIds.Length, perRow)).ToArray();
    }
}
