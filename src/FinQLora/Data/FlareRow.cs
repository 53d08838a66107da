namespace FinQLora.Data;

/// <summary>
/// One FLARE example in normalized form (the Hub's columns, docs/DATA.md):
/// query is the full prompt, answer the gold text; classification rows have choices + gold (index),
/// NER rows the raw text and BIO labels, headlines rows their label type, ConvFinQA rows their turn.
/// </summary>
public sealed record FlareRow
{
    public required string Id { get; init; }
    public required string Task { get; init; }
    public string Split { get; init; } = "test";
    public required string Query { get; init; }
    public required string Answer { get; init; }
    public string? Text { get; init; }
    public IReadOnlyList<string>? Choices { get; init; }
    public int? Gold { get; init; }
    public IReadOnlyList<string>? Label { get; init; }
    public string? LabelType { get; init; }
    public int? Turn { get; init; }
    public string? DialogueId { get; init; }
}
