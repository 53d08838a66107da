using FinQLora.Runtime;

namespace FinQLora.Tests.Runtime;

public class EnvironmentSettingsTests
{
    [Fact]
    public void Switches_are_read_from_the_environment_with_their_defaults()
    {
        var none = EnvironmentSettings.From(_ => null);
        Assert.Equal(new EnvironmentSettings(null, null, null, null, Nf4Kernel: true, FusedKernels: true, false, false, null), none);
        var env = new Dictionary<string, string>
        {
            ["FINQLORA_HOME"] = "/h", ["FINQLORA_NF4_KERNEL"] = "0", ["FINQLORA_FUSED"] = "off", ["FINQLORA_ONE_GPU_PER_PROCESS"] = "1",
            ["FINQLORA_DEBUG_DP"] = "1", ["FINQLORA_FAULT"] = "kill-during-checkpoint:3", ["FINQLORA_NCCL"] = "",
        };
        var s = EnvironmentSettings.From(n => env.GetValueOrDefault(n));
        Assert.Equal(("/h", false, false, true, true, "kill-during-checkpoint:3"), (s.Home, s.Nf4Kernel, s.FusedKernels, s.OneGpuPerProcess, s.DebugDataParallel, s.Fault));
        Assert.Null(s.Nccl);   // empty counts as unset
    }
}
