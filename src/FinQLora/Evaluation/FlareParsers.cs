using FinQLora.Tasks;

namespace FinQLora.Evaluation;

/// <summary>
/// PIXIU/FLARE's rules for turning generated text into a label (docs/EVALUATION.md):
/// sentiment — lowercase + strip, the first choice in list order that is a substring, else "missing";
/// stock movement — strip + lowercase, then the choices in list order, each matching by its name or its
/// aliases (rise: yes, positive; fall: no, negative, neutral), and fall when nothing matches (FLARE's
/// choices are ["Rise", "Fall"], so rise is checked first); headlines — "Yes" only for exactly "Yes"
/// after stripping; QA — the stripped text.
/// </summary>
public static class FlareParsers
{
    public const string Missing = "missing";
    private static readonly string[] RiseAliases = ["rise", "yes", "positive"];
    private static readonly string[] FallAliases = ["fall", "no", "negative", "neutral"];

    public static string Sentiment(string output, IReadOnlyList<string> choices)
    {
        var text = output.Trim().ToLowerInvariant();
        foreach (var c in choices)
            if (text.Contains(c.ToLowerInvariant(), StringComparison.Ordinal)) return c;
        return Missing;
    }

    public static string StockMovement(string output, IReadOnlyList<string> choices) =>
        StockMatch(output, choices) ?? choices.FirstOrDefault(c => c.Equals("fall", StringComparison.OrdinalIgnoreCase)) ?? "Fall";

    /// <summary>The first choice whose name or alias the output contains, or null (then FLARE defaults to fall).</summary>
    private static string? StockMatch(string output, IReadOnlyList<string> choices)
    {
        var text = output.Trim().ToLowerInvariant();
        foreach (var c in choices)
        {
            var aliases = c.ToLowerInvariant() switch { "rise" => RiseAliases, "fall" => FallAliases, var other => [other] };
            if (aliases.Any(a => text.Contains(a, StringComparison.Ordinal))) return c;
        }
        return null;
    }

    public static string Headlines(string output) => output.Trim() == "Yes" ? "Yes" : "No";

    /// <summary>
    /// True when the rule matched nothing in <paramref name="output"/> and fell back to FLARE's default label
    /// (stock movement: Fall; headlines: No, for any text other than exactly "Yes" or "No"). Sentiment has no
    /// default: an unmatched output is labelled <see cref="Missing"/> instead.
    /// </summary>
    public static bool IsDefaulted(TaskKind kind, string output, IReadOnlyList<string> choices) => kind switch
    {
        TaskKind.StockMovement => StockMatch(output, choices) is null,
        TaskKind.Headlines => output.Trim() is not ("Yes" or "No"),
        _ => false,
    };

    /// <summary>The label of a classification prediction, by the task's rule.</summary>
    public static string Label(TaskKind kind, string output, IReadOnlyList<string> choices) => kind switch
    {
        TaskKind.Sentiment => Sentiment(output, choices),
        TaskKind.StockMovement => StockMovement(output, choices),
        TaskKind.Headlines => Headlines(output),
        _ => throw new ArgumentException($"{kind} is not a classification task"),
    };
}
