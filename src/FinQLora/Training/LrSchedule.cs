using FinQLora.Config;

namespace FinQLora.Training;

/// <summary>
/// Learning-rate schedules with linear warm-up, as pure functions of the step. <c>step</c> is the
/// number of optimizer steps already taken (0 for the first update), the convention of transformers'
/// get_*_schedule_with_warmup and torch's LambdaLR, so the first warm-up step runs at lr 0:
/// <code>
/// warm-up (step &lt; w):  lr · step / w
/// constant:            lr
/// linear:              lr · (T − step) / (T − w)                  clamped at 0
/// cosine:              lr · ½ (1 + cos(π · (step − w) / (T − w)))  progress clamped to [0, 1]
/// </code>
/// with w the warm-up steps and T the total steps. Being a function of the step alone, the
/// schedule needs no state of its own in a checkpoint: the step restores it.
/// </summary>
public static class LrSchedule
{
    public static double At(Schedule schedule, double baseLr, long step, int warmupSteps, long totalSteps)
    {
        if (step < 0) throw new ArgumentOutOfRangeException(nameof(step), step, "step must be >= 0");
        if (step < warmupSteps) return baseLr * step / warmupSteps;
        double span = Math.Max(1, totalSteps - warmupSteps);
        double progress = Math.Clamp((step - warmupSteps) / span, 0, 1);
        return schedule switch
        {
            Schedule.Constant => baseLr,
            Schedule.Linear => baseLr * (1 - progress),
            Schedule.Cosine => baseLr * 0.5 * (1 + Math.Cos(Math.PI * progress)),
            _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, null),
        };
    }

    /// <summary>The schedule of a training section for a run of <paramref name="totalSteps"/> optimizer steps.</summary>
    public static double At(TrainingSection t, long step, int totalSteps) =>
        At(t.Schedule, t.Lr, step, t.ResolveWarmupSteps(totalSteps), totalSteps);
}
