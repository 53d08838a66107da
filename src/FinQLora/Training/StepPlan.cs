using FinQLora.Config;

namespace FinQLora.Training;

/// <summary>
/// The step arithmetic of a stage: an optimizer step takes <see cref="MicroPerStep"/> micro-batches
/// (grad_accum on each of the GPUs), an epoch holds <see cref="StepsPerEpoch"/> steps, the run <see cref="Total"/>.
/// </summary>
public sealed record StepPlan(int MicroPerStep, int StepsPerEpoch, long Total)
{
    /// <summary>
    /// The plan for an epoch of <paramref name="batchesPerEpoch"/> micro-batches holding <paramref name="rowsPerEpoch"/> rows
    /// (the <see cref="DataCursor"/>'s: with packing, the packed rows, so epochs and the schedule count packed batches);
    /// refuses data too small for one step.
    /// </summary>
    /// <param name="maxSteps">the command line's step cap, before training.max_steps and training.epochs</param>
    public static StepPlan For(TrainingSection t, int examples, int batchesPerEpoch, int rowsPerEpoch, bool packing, int worldSize, int? maxSteps)
    {
        int microPerStep = t.GradAccum * worldSize;
        int stepsPerEpoch = Math.Max(1, batchesPerEpoch / microPerStep);
        if (rowsPerEpoch < (long)t.BatchSize * microPerStep)
            throw new FinQLoraException($"the data has {examples} examples{(packing ? $" packed into {rowsPerEpoch} rows" : "")}, fewer than one optimizer step needs ({t.BatchSize} × {t.GradAccum} × {worldSize} GPU(s)); lower training.batch_size or training.grad_accum");
        long total = maxSteps ?? t.MaxSteps ?? (long)t.Epochs * stepsPerEpoch;
        return new StepPlan(microPerStep, stepsPerEpoch, total);
    }
}
