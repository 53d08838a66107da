namespace FinQLora.Training;

/// <summary>
/// The NaN/Inf guard: after each optimizer step's backward pass the trainer asks it whether the
/// loss and the gradient norm are finite. A non-finite step is skipped (no update; the gradients
/// are dropped) and counted; training.nan_guard_max_consecutive skips in a row stop the run, which
/// then writes a checkpoint (of the last good state) and exits with <see cref="ExitCode"/>.
/// Any finite step resets the run of skips. Its counters live in <see cref="TrainerState"/>.
/// </summary>
public sealed class NonFiniteGuard
{
    public const int ExitCode = 5;

    public enum Verdict { Step, Skip, Stop }

    public int MaxConsecutive { get; }
    /// <summary>Steps skipped in the whole run.</summary>
    public long Skipped { get; private set; }
    /// <summary>Steps skipped in a row up to now.</summary>
    public int InARow { get; private set; }

    public NonFiniteGuard(int maxConsecutive, long skipped = 0, int inARow = 0)
    {
        if (maxConsecutive < 1) throw new ArgumentOutOfRangeException(nameof(maxConsecutive), "must be >= 1");
        MaxConsecutive = maxConsecutive;
        Skipped = skipped;
        InARow = inARow;
    }

    /// <summary>Step when both values are finite; Skip for a non-finite one; Stop when that makes <see cref="MaxConsecutive"/> in a row.</summary>
    public Verdict Check(double loss, double gradNorm)
    {
        if (double.IsFinite(loss) && double.IsFinite(gradNorm))
        {
            InARow = 0;
            return Verdict.Step;
        }
        Skipped++;
        InARow++;
        return InARow >= MaxConsecutive ? Verdict.Stop : Verdict.Skip;
    }

    /// <summary>One line for the log about a skipped step.</summary>
    public string SkipMessage(long step, double loss, double gradNorm) =>
        $"step {step}: non-finite {(double.IsFinite(loss) ? $"gradient norm ({gradNorm})" : $"loss ({loss})")}, step skipped ({InARow} in a row, {Skipped} in all; the run stops at {MaxConsecutive} in a row)";

    /// <summary>The error that ends the run.</summary>
    public FinQLoraException StopError(long step, string checkpointDir) => new(
        $"stopped at step {step}: {InARow} steps in a row had a NaN/Inf loss or gradient norm. The last good state is in {checkpointDir}. " +
        "Lower training.lr, keep training.max_grad_norm on (e.g. 1.0), check the data (data.skip_bad_rows), or use model.dtype float32 to find the cause; " +
        "raise training.nan_guard_max_consecutive to tolerate more.", ExitCode);
}
