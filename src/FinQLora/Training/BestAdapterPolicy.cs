using FinQLora.Tasks;

namespace FinQLora.Training;

/// <summary>
/// checkpoint.select_best: after each measurement of the task metrics during training, whether that step's adapter
/// is the best so far by the selected value (<see cref="TaskMetricSelector"/>). Higher wins; a tie keeps the earlier
/// step (fewer steps, same quality); a measurement without the value, or with a NaN, never wins. The best so far is
/// carried in trainer_state.json, so a resumed run compares against the step the interrupted one kept.
/// </summary>
public sealed class BestAdapterPolicy(TaskMetricSelector selector, long? bestStep = null, double? bestScore = null)
{
    public TaskMetricSelector Selector { get; } = selector;
    public long? BestStep { get; private set; } = bestStep;
    public double? BestScore { get; private set; } = bestScore;

    /// <summary>Offers step <paramref name="step"/>'s metrics; true when it is the new best (and is recorded as such).</summary>
    public bool Offer(long step, IReadOnlyDictionary<string, SortedDictionary<string, double>> metrics)
    {
        if (Selector.Score(metrics) is not { } score || double.IsNaN(score)) return false;
        if (BestScore is { } best && score <= best) return false;
        (BestStep, BestScore) = (step, score);
        return true;
    }
}
