using System.CommandLine;
using System.Runtime.InteropServices;
using FinQLora.Cuda;
using FinQLora.Runtime;
using TorchSharp;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora env`: versions and locations of .NET, TorchSharp and libtorch, CPU threads, CUDA devices.</summary>
internal static class EnvCommand
{
    public static Command Create()
    {
        var command = new Command("env", "Print .NET, TorchSharp and libtorch versions and locations, CPU threads and CUDA devices.");
        command.SetAction(_ =>
        {
            Console.WriteLine($".NET:        {RuntimeInformation.FrameworkDescription} ({RuntimeInformation.RuntimeIdentifier})");
            Console.WriteLine($"OS:          {RuntimeInformation.OSDescription}");
            Console.WriteLine($"TorchSharp:  {typeof(torch).Assembly.GetName().Version} ({typeof(torch).Assembly.Location})");
            Console.WriteLine($"libtorch:    {LibTorchInfo.Describe()}");
            Console.WriteLine($"CPU threads: {Environment.ProcessorCount} logical, torch uses {torch.get_num_threads()}");
            bool cuda = torch.cuda.is_available();
            Console.WriteLine($"CUDA (torch): {(cuda ? $"available, {torch.cuda.device_count()} device(s)" : "not available")}");
            if (CudaDriver.TryInit(out var error))
            {
                Console.WriteLine($"CUDA driver: {CudaDriver.DriverVersion() / 1000}.{CudaDriver.DriverVersion() % 1000 / 10}");
                foreach (var d in CudaDriver.Devices())
                    Console.WriteLine($"  cuda:{d.Ordinal}  {d.Name}  {d.TotalMemoryBytes / (1024.0 * 1024 * 1024):F1} GiB  sm_{d.ComputeMajor}{d.ComputeMinor}  {d.SmCount} SMs");
            }
            else
            {
                Console.WriteLine($"CUDA driver: {error}");
            }
            return 0;
        });
        return command;
    }
}
