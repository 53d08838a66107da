using FinQLora.Config;
using FinQLora.Data;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Training;

/// <summary>A stage's tokenized training and validation examples, with what truncation did.</summary>
public sealed record TrainingData(List<TokenizedExample> Train, List<TokenizedExample> Valid, int Truncated, int Dropped)
{
    /// <summary>Reads every task's train (and valid, when present) split, tokenizes and mixes them.</summary>
    public static TrainingData Load(DataSection d, LlamaTokenizer tokenizer, long seed, Action<string> log)
    {
        var encoder = new PromptEncoder(tokenizer, d.MaxLength, d.Truncation == Truncation.Left ? TruncationMode.Left : TruncationMode.Drop, d.SystemPrompt);
        var byTask = new Dictionary<string, List<TokenizedExample>>();
        var valid = new List<TokenizedExample>();
        int truncated = 0, dropped = 0;
        foreach (var name in d.Tasks)
        {
            var task = FlareTasks.Get(name);
            var rows = ReadSplit(d, task, "train", log)
                       ?? throw new FinQLoraException($"data.dir {d.Dir}: no {task.Name}/train.jsonl (prepare it with `finqlora prepare-data --tasks {task.Name} --output {d.Dir}`)");
            var examples = new List<TokenizedExample>();
            foreach (var row in rows)
            {
                var e = encoder.Encode(row);
                if (e is null) { dropped++; continue; }
                if (e.Truncated) truncated++;
                examples.Add(e);
            }
            byTask[task.Name] = examples;
            var validRows = ReadSplit(d, task, "valid", log) ?? [];
            valid.AddRange(validRows.Select(encoder.Encode).OfType<TokenizedExample>());
            log($"{task.Name}: {examples.Count} training examples{(validRows.Count > 0 ? $", {validRows.Count} validation rows" : "")}");
        }
        if (truncated + dropped > 0)
            log($"{truncated} examples truncated (context cut, answer kept), {dropped} dropped as longer than data.max_length = {d.MaxLength}");
        var mixed = TaskMixer.Mix(byTask, d.Mixing == Mixing.Temperature ? MixingMode.Temperature : MixingMode.Proportional, d.Temperature, seed);
        if (mixed.Count == 0) throw new FinQLoraException($"no training examples in data.dir {d.Dir} for tasks {string.Join(", ", d.Tasks)}");
        return new TrainingData(mixed, valid, truncated, dropped);
    }

    /// <summary>A prepared split; skipped bad rows are counted in the log, and a bad row names the key that skips it.</summary>
    private static List<FlareRow>? ReadSplit(DataSection d, FlareTask task, string split, Action<string> log)
    {
        try { return DatasetPreparer.ReadPrepared(d.Dir, task, split, d.SkipBadRows, m => log($"{m} (data.skip_bad_rows)")); }
        catch (BadRowException e) { throw e.WithHint("set data.skip_bad_rows: true to skip such rows, counted and reported"); }
    }
}
