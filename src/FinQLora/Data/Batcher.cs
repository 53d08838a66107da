namespace FinQLora.Data;

/// <summary>
/// A training micro-batch as host arrays (the trainer makes tensors): [rows, length] row-major,
/// right-padded with the pad id and label −100. With packing, several examples share a row; then
/// positions restart at 0 per example and segment ids keep attention inside each example.
/// </summary>
public sealed record TrainBatch(long[] InputIds, long[] Labels, long[] Positions, long[]? Segments, int Rows, int Length, int LabelledTokens, IReadOnlyList<string> Ids);

/// <summary>
/// Orders examples into micro-batches, deterministically for a seed: examples are shuffled, cut into
/// pools of 50 batches, sorted by length inside a pool (so a batch pads little), batched, and the batch
/// order shuffled again. With packing, examples are first packed greedily into rows of at most
/// <c>maxLength</c> tokens.
/// </summary>
public static class Batcher
{
    public static List<TrainBatch> Batches(IReadOnlyList<TokenizedExample> examples, int batchSize, int padId, long seed, bool packing = false, int maxLength = 0)
    {
        if (batchSize < 1) throw new FinQLoraException($"batch size must be at least 1, got {batchSize}");
        var rng = new Random(unchecked((int)seed));
        var order = examples.ToList();
        Shuffle(order, rng);
        var rows = packing ? Pack(order, maxLength) : order.Select(e => new List<TokenizedExample> { e }).ToList();
        var batches = new List<TrainBatch>();
        int pool = batchSize * 50;
        for (int start = 0; start < rows.Count; start += pool)
        {
            var chunk = rows.Skip(start).Take(pool).OrderBy(r => r.Sum(e => e.InputIds.Length)).ToList();
            for (int b = 0; b < chunk.Count; b += batchSize)
                batches.Add(Make(chunk.Skip(b).Take(batchSize).ToList(), padId, packing));
        }
        Shuffle(batches, rng);
        return batches;
    }

    private static List<List<TokenizedExample>> Pack(List<TokenizedExample> examples, int maxLength)
    {
        if (maxLength < 1) throw new FinQLoraException("packing needs data.max_length");
        var rows = new List<List<TokenizedExample>>();
        var lengths = new List<int>();
        foreach (var e in examples.OrderByDescending(e => e.InputIds.Length))
        {
            int i = lengths.FindIndex(l => l + e.InputIds.Length <= maxLength);   // first fit
            if (i < 0) { rows.Add([e]); lengths.Add(e.InputIds.Length); }
            else { rows[i].Add(e); lengths[i] += e.InputIds.Length; }
        }
        return rows;
    }

    private static TrainBatch Make(List<List<TokenizedExample>> rows, int padId, bool packing)
    {
        int length = rows.Max(r => r.Sum(e => e.InputIds.Length));
        var ids = new long[rows.Count * length];
        var labels = new long[rows.Count * length];
        var positions = new long[rows.Count * length];
        var segments = packing ? new long[rows.Count * length] : null;
        Array.Fill(ids, padId);
        Array.Fill(labels, -100);
        int labelled = 0;
        for (int r = 0; r < rows.Count; r++)
        {
            int at = r * length;
            for (int s = 0; s < rows[r].Count; s++)
            {
                var e = rows[r][s];
                for (int j = 0; j < e.InputIds.Length; j++, at++)
                {
                    ids[at] = e.InputIds[j];
                    labels[at] = e.Labels[j];
                    positions[at] = j;
                    if (segments is not null) segments[at] = s;
                }
                labelled += e.Labels.Skip(1).Count(l => l != -100);
            }
            if (segments is not null) for (; at < (r + 1) * length; at++) segments[at] = -1;   // padding: its own segment
        }
        return new TrainBatch(ids, labels, positions, segments, rows.Count, length, labelled, rows.SelectMany(r => r.Select(e => e.Id)).ToList());
    }

    private static void Shuffle<T>(List<T> list, Random rng)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = rng.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
