namespace FinQLora.Config;

/// <summary>
/// `finqlora curriculum --config FILE`: training stages run in order (each a <see cref="TrainConfig"/>,
/// given as a path or inline), then evaluation, then the report.
/// </summary>
public sealed record CurriculumConfig
{
    /// <summary>The curriculum's folder; a stage whose output is not set explicitly writes to OUTPUT/STAGE.</summary>
    public string Output { get; init; } = "runs/curriculum";
    public IReadOnlyList<TrainConfig> Stages { get; init; } = [];
    public EvaluationSection Evaluation { get; init; } = new();
    /// <summary>Write the report (tables and figures) after the evaluation.</summary>
    public bool Report { get; init; } = true;
}

public sealed record EvaluationSection
{
    /// <summary>Evaluate after the last stage.</summary>
    public bool Enabled { get; init; } = true;
    /// <summary>FLARE tasks to evaluate; empty for every task the stages trained on.</summary>
    public IReadOnlyList<string> Tasks { get; init; } = [];
    /// <summary>The folder with the evaluation data.</summary>
    public string DataDir { get; init; } = "data";
    /// <summary>At most this many rows per task; null for all.</summary>
    public int? Limit { get; init; }
    /// <summary>Which adapter of the last stage is evaluated: its final one, or the best one (needs the stage's checkpoint.select_best).</summary>
    public EvaluatedAdapter Adapter { get; init; } = EvaluatedAdapter.Last;
}

public enum EvaluatedAdapter { Last, Best }
