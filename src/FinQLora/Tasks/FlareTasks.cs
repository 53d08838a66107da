namespace FinQLora.Tasks;

/// <summary>The nine FLARE tasks FinQLora trains and evaluates.</summary>
public static class FlareTasks
{
    private static readonly string[] TrainValidTest = ["train", "valid", "test"];
    private static readonly string[] SentimentMetrics = ["acc", "f1", "macro_f1", "mcc", "missing"];
    private static readonly string[] StockMetrics = ["acc", "f1", "macro_f1", "mcc", "missing"];

    public static readonly IReadOnlyList<FlareTask> All =
    [
        new("fpb", "TheFinAI/flare-fpb", TaskKind.Sentiment, ["positive", "neutral", "negative"], TrainValidTest, SentimentMetrics, Stage: 2),
        new("fiqasa", "TheFinAI/flare-fiqasa", TaskKind.Sentiment, ["positive", "negative", "neutral"], TrainValidTest, SentimentMetrics, Stage: 2),
        new("headlines", "TheFinAI/flare-headlines", TaskKind.Headlines, ["Yes", "No"], TrainValidTest, ["avg_f1", "acc"], Stage: 2),
        new("ner", "TheFinAI/flare-ner", TaskKind.Ner, [], TrainValidTest, ["entity_f1"], Stage: 2),
        new("finqa", "TheFinAI/flare-finqa", TaskKind.Qa, [], TrainValidTest, ["acc", "num_acc"], Stage: 1),
        new("convfinqa", "TheFinAI/flare-convfinqa", TaskKind.Qa, [], TrainValidTest, ["acc", "num_acc"], Stage: 1, MultiTurn: true),
        new("acl18", "TheFinAI/flare-sm-acl", TaskKind.StockMovement, ["Rise", "Fall"], TrainValidTest, StockMetrics, Stage: 1),
        new("bigdata22", "TheFinAI/flare-sm-bigdata", TaskKind.StockMovement, ["Rise", "Fall"], TrainValidTest, StockMetrics, Stage: 1),
        new("cikm18", "TheFinAI/flare-sm-cikm", TaskKind.StockMovement, ["Rise", "Fall"], TrainValidTest, StockMetrics, Stage: 1),
    ];

    public static FlareTask Get(string name) =>
        All.FirstOrDefault(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase))
        ?? throw new FinQLoraException($"unknown task '{name}'; known tasks: {string.Join(", ", All.Select(t => t.Name))}");

    /// <summary>Parses "all" or a comma-separated list of task names.</summary>
    public static IReadOnlyList<FlareTask> Parse(string spec) =>
        spec.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)
            ? All
            : spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Get).Distinct().ToList();
}
