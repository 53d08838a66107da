namespace FinQLora.Evaluation;

/// <summary>
/// One evaluated row: what the model said and what re-scoring needs (predictions.jsonl, snake_case):
/// task, id, prediction, answer; choices + gold for classification; text for NER; label_type for headlines;
/// row, the row's index in its task's data split (what a resumed evaluation matches finished rows by).
/// </summary>
public sealed record Prediction
{
    public required string Task { get; init; }
    public string Id { get; init; } = "";
    /// <summary>The row's 0-based index in its task's data split (null in files made elsewhere).</summary>
    public int? Row { get; init; }
    public required string PredictionText { get; init; }
    public required string Answer { get; init; }
    public IReadOnlyList<string>? Choices { get; init; }
    public int? Gold { get; init; }
    public string? Text { get; init; }
    public IReadOnlyList<string>? Label { get; init; }
    public string? LabelType { get; init; }
    public string? DialogueId { get; init; }
    public int? Turn { get; init; }
    public double? LatencyMs { get; init; }
}
