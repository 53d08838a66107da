using System.Runtime.CompilerServices;

// Tests share libtorch's process-wide default generators (dropout, manual_seed) and the console:
// they run one at a time so seeded results are reproducible.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace FinQLora.Tests;

internal static class TestSetup
{
#pragma warning disable CA2255 // tests touch TorchSharp before any FinQLora type: load the native shim first
    [ModuleInitializer]
    internal static void Init() => FinQLora.Runtime.NativeBootstrap.Ensure();
#pragma warning restore CA2255
}
