namespace FinQLora.Tasks;

/// <summary>How a task's generated text is turned into a prediction and scored.</summary>
public enum TaskKind
{
    /// <summary>Sentiment: the first choice (in list order) that is a substring of the lowercased output.</summary>
    Sentiment,
    /// <summary>Headlines: "Yes" only if the stripped output is exactly "Yes"; avg F1 over label types.</summary>
    Headlines,
    /// <summary>NER: "entity, TYPE" lines turned into BIO tags; entity-level F1.</summary>
    Ner,
    /// <summary>FinQA / ConvFinQA: exact string match of the stripped output.</summary>
    Qa,
    /// <summary>Stock movement: Rise/Fall with aliases, rise checked first, fall by default.</summary>
    StockMovement,
}

/// <summary>
/// One FLARE task: where its data lives on the Hub, its splits, and how it is scored
/// (docs/DATA.md). The data loaders and the evaluator both read these.
/// </summary>
/// <param name="Stage">the curriculum stage the paper trains it in: 1 = complex (QA, stock movement), 2 = simple</param>
public sealed record FlareTask(
    string Name,
    string HubDataset,
    TaskKind Kind,
    IReadOnlyList<string> Choices,
    IReadOnlyList<string> Splits,
    IReadOnlyList<string> Metrics,
    int Stage,
    bool MultiTurn = false)
{
    public bool IsClassification => Kind is TaskKind.Sentiment or TaskKind.Headlines or TaskKind.StockMovement;
}
