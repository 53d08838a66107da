namespace FinQLora.Tests.Training;

/// <summary>
/// Tests that seed torch's process-wide generator and rely on the draws that follow (dropout, randn)
/// run alone, after the parallel tests: another test seeding or drawing at the same time would change them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GlobalRngCollection
{
    public const string Name = "global torch RNG";
}
