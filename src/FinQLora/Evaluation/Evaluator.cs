using System.Diagnostics;
using System.Text.RegularExpressions;
using FinQLora.Data;
using FinQLora.Inference;
using FinQLora.Tasks;
using FinQLora.Text;

namespace FinQLora.Evaluation;

/// <summary>What to evaluate and how.</summary>
public sealed record EvaluationSettings(IReadOnlyList<FlareTask> Tasks, string DataDir, int? Limit = null, int BatchSize = 8,
    int MaxNewTokens = 64, string Mode = "generate", string? SystemPrompt = null, int MaxLength = 4096, string Split = "test", bool SkipMissing = false);

/// <summary>
/// Runs the model over each task's rows: greedy batched generation (prompts in the same chat format as
/// training, batches sorted by length), or, with mode "loglik", the highest-log-probability choice for
/// classification tasks. ConvFinQA dialogues run turn by turn, each query's placeholders {answer0}…
/// filled with the model's own earlier answers. Each finished batch goes to the <see cref="PredictionsLog"/>
/// (when given) before the next one runs; a batch whose rows the log already holds is taken from it instead of
/// being run again, so a resumed evaluation forms the same batches and generates only what is missing.
/// </summary>
public static class Evaluator
{
    /// <summary>Every task's predictions, in task order and, within a task, in data order.</summary>
    public static List<Prediction> Run(ModelBundle bundle, EvaluationSettings s, PredictionsLog? store = null, Action<string>? log = null, Action<EvaluationProgress>? progress = null)
    {
        if (s.Mode is not ("generate" or "loglik")) throw new FinQLoraException($"--mode {s.Mode}: expected generate or loglik");
        var predictions = new List<Prediction>();
        foreach (var task in s.Tasks)
        {
            var rows = DatasetPreparer.ReadPrepared(s.DataDir, task, s.Split);
            if (rows is null && s.SkipMissing) { log?.Invoke($"{task.Name}: skipped, no {s.Split} data in {s.DataDir}"); continue; }
            if (rows is null) throw new FinQLoraException($"{s.DataDir}: no {task.Name}/{s.Split}.jsonl (run `finqlora prepare-data --tasks {task.Name} --output {s.DataDir}` first)");
            if (s.Limit is { } limit) rows = rows.Take(limit).ToList();
            if (rows.Count == 0) { log?.Invoke($"{task.Name}: no rows"); continue; }
            predictions.AddRange(RunTask(bundle, task, rows, s, store, log, progress));
        }
        return predictions;
    }

    /// <summary>One task's predictions for <paramref name="rows"/> (row i is <see cref="Prediction.Row"/> i), in row order.</summary>
    public static Prediction[] RunTask(ModelBundle bundle, FlareTask task, IReadOnlyList<FlareRow> rows, EvaluationSettings s,
        PredictionsLog? store = null, Action<string>? log = null, Action<EvaluationProgress>? progress = null)
    {
        var run = new TaskRun(bundle, task, rows, s, store, progress);
        int earlier = store is null ? 0 : Enumerable.Range(0, rows.Count).Count(i => store.Done.ContainsKey((task.Name, i)));
        log?.Invoke($"{task.Name}: {rows.Count} rows ({s.Mode})" + (earlier > 0 ? $", {earlier} finished earlier" : ""));
        if (s.Mode == "loglik" && task.IsClassification) run.LogLik();
        else if (task.MultiTurn) run.MultiTurn();
        else run.Generate();
        return run.Results();
    }

    /// <summary>Replaces {answer0}, {answer1}, … with the model's earlier answers in the dialogue.</summary>
    public static string FillPlaceholders(string query, IReadOnlyList<string> earlier) =>
        Regex.Replace(query, @"\{answer(\d+)\}", m => int.TryParse(m.Groups[1].Value, out var k) && k < earlier.Count ? earlier[k] : m.Value);

    /// <summary>One task's evaluation: its batches, what was finished before, and the progress of this run.</summary>
    private sealed class TaskRun(ModelBundle bundle, FlareTask task, IReadOnlyList<FlareRow> rows, EvaluationSettings s, PredictionsLog? store, Action<EvaluationProgress>? progress)
    {
        private readonly Prediction?[] _results = new Prediction?[rows.Count];
        private readonly PromptEncoder _encoder = new(bundle.Tokenizer, s.MaxLength, TruncationMode.Left, s.SystemPrompt);
        private readonly GenerationOptions _options = new(MaxNewTokens: s.MaxNewTokens);
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private long _tokens;
        private int _done, _fromStore, _generated;

        public void Generate()
        {
            var prompts = rows.Select(r => _encoder.EncodePrompt(r.Query, s.MaxLength - s.MaxNewTokens)).ToList();
            foreach (var batch in BatchGeneration.Plan(prompts, s.BatchSize))
                if (!FromStore(batch)) Finish(batch, BatchGeneration.RunBatch(bundle, prompts, batch, _options));
        }

        public void MultiTurn()
        {
            var dialogues = rows.Select((r, i) => (r, i)).GroupBy(x => x.r.DialogueId ?? x.r.Id).Select(g => g.OrderBy(x => x.r.Turn ?? 0).ToList()).ToList();
            var answers = dialogues.ToDictionary(d => d, _ => new List<string>());
            for (int turn = 0; dialogues.Any(d => d.Count > turn); turn++)
            {
                var active = dialogues.Where(d => d.Count > turn).ToList();
                var prompts = active.Select(d => _encoder.EncodePrompt(FillPlaceholders(d[turn].r.Query, answers[d]), s.MaxLength - s.MaxNewTokens)).ToList();
                foreach (var batch in BatchGeneration.Plan(prompts, s.BatchSize))
                {
                    var rowIds = batch.Select(j => active[j][turn].i).ToArray();
                    if (!FromStore(rowIds)) Finish(rowIds, BatchGeneration.RunBatch(bundle, prompts, batch, _options));
                    foreach (var j in batch) answers[active[j]].Add(_results[active[j][turn].i]!.PredictionText.Trim());
                }
            }
        }

        public void LogLik()
        {
            foreach (var batch in Enumerable.Range(0, rows.Count).Chunk(Math.Max(1, s.BatchSize)))
            {
                if (FromStore(batch)) continue;
                var texts = batch.Select(i =>
                {
                    var clock = Stopwatch.StartNew();
                    var r = rows[i];
                    var prompt = _encoder.EncodePrompt(r.Query);
                    var scores = Scorer.ScoreIds(bundle.Model, r.Choices!.Select(c => (prompt, bundle.Tokenizer.Encode(c, addBos: false))).ToList(), bundle.Tokenizer.PadId);
                    int best = Enumerable.Range(0, scores.Count).MaxBy(k => scores[k].LogProb);
                    return new GeneratedText(r.Choices![best], 0, clock.Elapsed.TotalMilliseconds);
                }).ToArray();
                Finish(batch, texts);
            }
        }

        /// <summary>Takes the batch from the store when an earlier run finished all of its rows.</summary>
        private bool FromStore(int[] batch)
        {
            if (store is null || !batch.All(i => store.Done.ContainsKey((task.Name, i)))) return false;
            foreach (var i in batch)
            {
                var p = store.Done[(task.Name, i)];
                if (p.Id != rows[i].Id)
                    throw new FinQLoraException($"{store.Path}: {task.Name} row {i} has id '{p.Id}' but the data's row {i} is '{rows[i].Id}': the data changed since the evaluation started; start it again with --overwrite");
                _results[i] = p;
            }
            _done += batch.Length;
            _fromStore += batch.Length;
            return true;
        }

        private void Finish(int[] batch, IReadOnlyList<GeneratedText> texts)
        {
            var made = new Prediction[batch.Length];
            for (int j = 0; j < batch.Length; j++)
            {
                var r = rows[batch[j]];
                made[j] = _results[batch[j]] = new Prediction
                {
                    Task = task.Name, Id = r.Id, Row = batch[j], PredictionText = texts[j].Text, Answer = r.Answer, Choices = r.Choices, Gold = r.Gold,
                    Text = r.Text, Label = r.Label, LabelType = r.LabelType, DialogueId = r.DialogueId, Turn = r.Turn, LatencyMs = texts[j].LatencyMs,
                };
                _tokens += texts[j].NewTokens;
            }
            store?.Append(made);
            _done += batch.Length;
            _generated += batch.Length;
            Report();
        }

        private void Report() => progress?.Invoke(new EvaluationProgress(task.Name, _done, rows.Count, _fromStore, _tokens, _clock.Elapsed));

        /// <summary>The task's predictions in row order (a task finished entirely by an earlier run reports its progress once here).</summary>
        public Prediction[] Results()
        {
            if (_generated == 0) Report();
            return _results.Select((p, i) => p ?? throw new InvalidOperationException($"{task.Name} row {i} was not evaluated")).ToArray();
        }
    }
}
