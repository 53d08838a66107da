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
/// training, sorted by length), or, with mode "loglik", the highest-log-probability choice for
/// classification tasks. ConvFinQA dialogues run turn by turn, each query's placeholders {answer0}…
/// filled with the model's own earlier answers.
/// </summary>
public static class Evaluator
{
    public static List<Prediction> Run(ModelBundle bundle, EvaluationSettings s, Action<string>? log = null, Action<string, int, int, long>? progress = null)
    {
        if (s.Mode is not ("generate" or "loglik")) throw new FinQLoraException($"--mode {s.Mode}: expected generate or loglik");
        var encoder = new PromptEncoder(bundle.Tokenizer, s.MaxLength, TruncationMode.Left, s.SystemPrompt);
        var predictions = new List<Prediction>();
        foreach (var task in s.Tasks)
        {
            var rows = DatasetPreparer.ReadPrepared(s.DataDir, task, s.Split);
            if (rows is null && s.SkipMissing) { log?.Invoke($"{task.Name}: skipped, no {s.Split} data in {s.DataDir}"); continue; }
            if (rows is null) throw new FinQLoraException($"{s.DataDir}: no {task.Name}/{s.Split}.jsonl (run `finqlora prepare-data --tasks {task.Name} --output {s.DataDir}` first)");
            if (s.Limit is { } limit) rows = rows.Take(limit).ToList();
            if (rows.Count == 0) { log?.Invoke($"{task.Name}: no rows"); continue; }
            log?.Invoke($"{task.Name}: {rows.Count} rows ({s.Mode})");
            var options = new GenerationOptions(MaxNewTokens: s.MaxNewTokens);
            var texts = s.Mode == "loglik" && task.IsClassification
                ? LogLik(bundle, encoder, rows)
                : task.MultiTurn ? MultiTurn(bundle, encoder, rows, s, options) : Generate(bundle, encoder, rows, s, options, (d, t) => progress?.Invoke(task.Name, d, rows.Count, t));
            for (int i = 0; i < rows.Count; i++)
            {
                var r = rows[i];
                predictions.Add(new Prediction
                {
                    Task = task.Name, Id = r.Id, PredictionText = texts[i].Text, Answer = r.Answer, Choices = r.Choices, Gold = r.Gold,
                    Text = r.Text, Label = r.Label, LabelType = r.LabelType, DialogueId = r.DialogueId, Turn = r.Turn, LatencyMs = texts[i].LatencyMs,
                });
            }
        }
        return predictions;
    }

    private static IReadOnlyList<GeneratedText> Generate(ModelBundle bundle, PromptEncoder encoder, IReadOnlyList<FlareRow> rows, EvaluationSettings s,
        GenerationOptions options, Action<int, long>? progress)
    {
        var prompts = rows.Select(r => encoder.EncodePrompt(r.Query, s.MaxLength - s.MaxNewTokens)).ToList();
        return BatchGeneration.Run(bundle, prompts, s.BatchSize, options, progress);
    }

    private static IReadOnlyList<GeneratedText> MultiTurn(ModelBundle bundle, PromptEncoder encoder, IReadOnlyList<FlareRow> rows, EvaluationSettings s, GenerationOptions options)
    {
        var results = new GeneratedText[rows.Count];
        var dialogues = rows.Select((r, i) => (r, i)).GroupBy(x => x.r.DialogueId ?? x.r.Id).Select(g => g.OrderBy(x => x.r.Turn ?? 0).ToList()).ToList();
        var answers = dialogues.ToDictionary(d => d, _ => new List<string>());
        for (int turn = 0; dialogues.Any(d => d.Count > turn); turn++)
        {
            var active = dialogues.Where(d => d.Count > turn).ToList();
            var prompts = active.Select(d => encoder.EncodePrompt(FillPlaceholders(d[turn].r.Query, answers[d]), s.MaxLength - s.MaxNewTokens)).ToList();
            var outputs = BatchGeneration.Run(bundle, prompts, s.BatchSize, options);
            for (int j = 0; j < active.Count; j++)
            {
                results[active[j][turn].i] = outputs[j];
                answers[active[j]].Add(outputs[j].Text.Trim());
            }
        }
        return results;
    }

    /// <summary>Replaces {answer0}, {answer1}, … with the model's earlier answers in the dialogue.</summary>
    public static string FillPlaceholders(string query, IReadOnlyList<string> earlier) =>
        Regex.Replace(query, @"\{answer(\d+)\}", m => int.TryParse(m.Groups[1].Value, out var k) && k < earlier.Count ? earlier[k] : m.Value);

    private static IReadOnlyList<GeneratedText> LogLik(ModelBundle bundle, PromptEncoder encoder, IReadOnlyList<FlareRow> rows)
    {
        var results = new List<GeneratedText>();
        foreach (var r in rows)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var prompt = encoder.EncodePrompt(r.Query);
            var pairs = r.Choices!.Select(c => (prompt, bundle.Tokenizer.Encode(c, addBos: false))).ToList();
            var scores = Scorer.ScoreIds(bundle.Model, pairs, bundle.Tokenizer.PadId);
            int best = Enumerable.Range(0, scores.Count).MaxBy(i => scores[i].LogProb);
            results.Add(new GeneratedText(r.Choices![best], 0, clock.Elapsed.TotalMilliseconds));
        }
        return results;
    }
}
