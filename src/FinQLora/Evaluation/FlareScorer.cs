using System.Globalization;
using FinQLora.Tasks;

namespace FinQLora.Evaluation;

/// <summary>Computes each task's metrics (PIXIU's names) from its predictions.</summary>
public static class FlareScorer
{
    /// <summary>{task: {metric: value}} for every task present in <paramref name="predictions"/> (values are fractions).</summary>
    public static SortedDictionary<string, SortedDictionary<string, double>> Score(IEnumerable<Prediction> predictions)
    {
        var result = new SortedDictionary<string, SortedDictionary<string, double>>(StringComparer.Ordinal);
        foreach (var group in predictions.GroupBy(p => p.Task))
            result[group.Key] = ScoreTask(FlareTasks.Get(group.Key), group.ToList());
        return result;
    }

    public static SortedDictionary<string, double> ScoreTask(FlareTask task, IReadOnlyList<Prediction> rows)
    {
        var m = new SortedDictionary<string, double>(StringComparer.Ordinal);
        switch (task.Kind)
        {
            case TaskKind.Sentiment or TaskKind.StockMovement:
            {
                var gold = rows.Select(r => r.Choices![r.Gold!.Value]).ToList();
                var pred = rows.Select(r => FlareParsers.Label(task.Kind, r.PredictionText, r.Choices!)).ToList();
                m["acc"] = ClassificationMetrics.Accuracy(gold, pred);
                m["f1"] = ClassificationMetrics.WeightedF1(gold, pred);
                m["macro_f1"] = ClassificationMetrics.MacroF1(gold, pred);
                m["mcc"] = ClassificationMetrics.Mcc(gold, pred);
                m["missing"] = pred.Count(p => p == FlareParsers.Missing) / (double)rows.Count;
                if (task.Kind == TaskKind.StockMovement) m["defaulted"] = Defaulted(task.Kind, rows);
                break;
            }
            case TaskKind.Headlines:
            {
                var byType = rows.GroupBy(r => r.LabelType ?? "").ToList();
                m["avg_f1"] = byType.Average(g => ClassificationMetrics.WeightedF1(
                    g.Select(r => r.Choices![r.Gold!.Value]).ToList(), g.Select(r => FlareParsers.Headlines(r.PredictionText)).ToList()));
                m["acc"] = ClassificationMetrics.Accuracy(rows.Select(r => r.Choices![r.Gold!.Value]).ToList(), rows.Select(r => FlareParsers.Headlines(r.PredictionText)).ToList());
                m["defaulted"] = Defaulted(task.Kind, rows);
                break;
            }
            case TaskKind.Ner:
            {
                // gold: the row's BIO labels, or (rows without them) its answer's lines tagged with the real offsets
                var gold = rows.Select(r => r.Label ?? NerScoring.Tags(r.Answer, r.Text!, NerTagging.Lenient)).ToList();
                m["entity_f1"] = NerScoring.EntityF1(gold, rows.Select(r => NerScoring.Tags(r.PredictionText, r.Text!, NerTagging.Pixiu)).ToList());
                m["entity_f1_lenient"] = NerScoring.EntityF1(gold, rows.Select(r => NerScoring.Tags(r.PredictionText, r.Text!, NerTagging.Lenient)).ToList());
                break;
            }
            case TaskKind.Qa:
                m["acc"] = rows.Count(r => ExactMatch(r.PredictionText, r.Answer)) / (double)rows.Count;
                m["num_acc"] = rows.Count(r => NumericMatch(r.PredictionText, r.Answer)) / (double)rows.Count;
                break;
        }
        return m;
    }

    /// <summary>Share of outputs the parser could not match, scored as FLARE's default label (not a FLARE metric: it says how much of acc is the default's).</summary>
    private static double Defaulted(TaskKind kind, IReadOnlyList<Prediction> rows) =>
        rows.Count(r => FlareParsers.IsDefaulted(kind, r.PredictionText, r.Choices ?? [])) / (double)rows.Count;

    /// <summary>FLARE's QA accuracy: the stripped output equals the gold answer as stored (the answer is not stripped).</summary>
    public static bool ExactMatch(string output, string answer) => output.Trim() == answer;

    /// <summary>
    /// The numeric-tolerance accuracy reported beside FinQA's exact match (not a FLARE metric):
    /// the first number in the output and the answer (ignoring $, % and thousands commas) agree
    /// within 1 % of the answer's magnitude, or 1e-6 when the answer is 0. A non-numeric answer
    /// (e.g. "yes") falls back to exact match.
    /// </summary>
    public static bool NumericMatch(string output, string answer)
    {
        if (FirstNumber(answer) is not { } a) return output.Trim() == answer.Trim();
        if (FirstNumber(output) is not { } p) return false;
        return Math.Abs(p - a) <= Math.Max(1e-6, 0.01 * Math.Abs(a));
    }

    private static double? FirstNumber(string s)
    {
        var m = System.Text.RegularExpressions.Regex.Match(s.Replace(",", "").Replace("$", "").Replace("%", ""), @"-?\d+(\.\d+)?");
        return m.Success ? double.Parse(m.Value, CultureInfo.InvariantCulture) : null;
    }
}
