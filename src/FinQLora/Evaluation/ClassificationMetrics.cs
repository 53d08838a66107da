namespace FinQLora.Evaluation;

/// <summary>
/// Classification metrics with scikit-learn's definitions, as PIXIU computes them: accuracy;
/// F1 weighted by support and macro F1, both over the set of gold labels (a prediction outside it —
/// e.g. "missing" — only lowers its gold class's recall); multi-class Matthews correlation
/// (matthews_corrcoef) after PIXIU's mapping: gold labels keep their class and every prediction
/// outside the gold set falls into one extra class (PIXIU maps them all to -1); 0 where a denominator is 0.
/// </summary>
public static class ClassificationMetrics
{
    public static double Accuracy(IReadOnlyList<string> gold, IReadOnlyList<string> pred) =>
        gold.Count == 0 ? 0 : gold.Zip(pred).Count(x => x.First == x.Second) / (double)gold.Count;

    public static double WeightedF1(IReadOnlyList<string> gold, IReadOnlyList<string> pred) => F1(gold, pred, weighted: true);

    public static double MacroF1(IReadOnlyList<string> gold, IReadOnlyList<string> pred) => F1(gold, pred, weighted: false);

    private static double F1(IReadOnlyList<string> gold, IReadOnlyList<string> pred, bool weighted)
    {
        var labels = gold.Distinct().ToList();
        if (labels.Count == 0) return 0;
        double total = 0, weights = 0;
        foreach (var l in labels)
        {
            int tp = 0, fp = 0, fn = 0;
            for (int i = 0; i < gold.Count; i++)
            {
                bool g = gold[i] == l, p = pred[i] == l;
                if (g && p) tp++; else if (p) fp++; else if (g) fn++;
            }
            double precision = tp + fp == 0 ? 0 : tp / (double)(tp + fp);
            double recall = tp + fn == 0 ? 0 : tp / (double)(tp + fn);
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            double w = weighted ? tp + fn : 1;
            total += f1 * w;
            weights += w;
        }
        return weights == 0 ? 0 : total / weights;
    }

    public static double Mcc(IReadOnlyList<string> gold, IReadOnlyList<string> pred)
    {
        var labels = gold.Distinct().ToList();
        var index = labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i);
        int k = labels.Count + 1;   // the last class holds every prediction outside the gold set
        var t = new double[k];
        var p = new double[k];
        double correct = 0, n = gold.Count;
        for (int i = 0; i < gold.Count; i++)
        {
            t[index[gold[i]]]++;
            p[index.GetValueOrDefault(pred[i], k - 1)]++;
            if (gold[i] == pred[i]) correct++;
        }
        double cov = correct * n - t.Zip(p).Sum(x => x.First * x.Second);
        double denom = Math.Sqrt((n * n - p.Sum(x => x * x)) * (n * n - t.Sum(x => x * x)));
        return denom == 0 ? 0 : cov / denom;
    }
}
