namespace FinQLora.Training;

/// <summary>
/// The points where a caller steps into a run, injected instead of tested for inside the loop: after each
/// optimizer step (a test stops the run there as SIGINT would, or counts live tensors) and while a checkpoint
/// is written, just before its optimizer file (<see cref="FaultInjection"/> fails the write there).
/// <see cref="None"/> does nothing at either point.
/// </summary>
public sealed record TrainingHooks
{
    public static TrainingHooks None { get; } = new();

    /// <summary>After optimizer step N (its metrics logged, before the checkpoint decision); may ask the run to stop.</summary>
    public Action<long, StopSignal> AfterStep { get; init; } = (_, _) => { };

    /// <summary>While checkpoint N is written into a temporary folder, just before its optimizer file (the path given) is.</summary>
    public Action<long, string> BeforeOptimizerState { get; init; } = (_, _) => { };
}
