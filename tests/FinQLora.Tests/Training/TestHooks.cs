using FinQLora.Training;

namespace FinQLora.Tests.Training;

/// <summary>The <see cref="TrainingHooks"/> the training tests inject.</summary>
internal static class TestHooks
{
    /// <summary>Stops the run after <paramref name="step"/> as SIGINT would there: a checkpoint, then a stopped result.</summary>
    public static TrainingHooks StopAfter(long step) =>
        TrainingHooks.None with { AfterStep = (s, stop) => { if (s == step) stop.Request("StopAfter"); } };

    /// <summary>Calls <paramref name="onStep"/> after every optimizer step.</summary>
    public static TrainingHooks OnStepEnd(Action<long> onStep) =>
        TrainingHooks.None with { AfterStep = (s, _) => onStep(s) };
}
