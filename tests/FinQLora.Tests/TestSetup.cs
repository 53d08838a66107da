using System.Runtime.CompilerServices;

namespace FinQLora.Tests;

internal static class TestSetup
{
#pragma warning disable CA2255 // tests touch TorchSharp before any FinQLora type: load the native shim first
    [ModuleInitializer]
    internal static void Init() => FinQLora.Runtime.NativeBootstrap.Ensure();
#pragma warning restore CA2255
}
