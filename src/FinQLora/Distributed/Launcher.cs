using System.Diagnostics;

namespace FinQLora.Distributed;

/// <summary>Where the processes of a data-parallel run go: GPUs per node, nodes, this node's rank, the rendezvous address.</summary>
public sealed record LaunchSettings(int GpusPerNode, int Nodes = 1, int NodeRank = 0, string MasterAddr = "127.0.0.1", int MasterPort = 29500)
{
    public void Validate()
    {
        if (GpusPerNode < 1) throw new FinQLoraException($"--gpus must be at least 1, got {GpusPerNode}");
        if (Nodes < 1) throw new FinQLoraException($"--nnodes must be at least 1, got {Nodes}");
        if (NodeRank < 0 || NodeRank >= Nodes) throw new FinQLoraException($"--node-rank must be in 0..{Nodes - 1}, got {NodeRank}");
        if (MasterPort is < 1 or > 65535) throw new FinQLoraException($"--master-port must be a TCP port, got {MasterPort}");
    }
}

/// <summary>
/// Starts one process of this program per local GPU (as torchrun does), each with its rank in the
/// environment; rank 0's output passes through, the others' lines are prefixed with their rank. If
/// one process fails the others are stopped, and the launcher exits with the failing code.
/// </summary>
public static class Launcher
{
    public static int Run(LaunchSettings s, IReadOnlyList<string> childArgs)
    {
        s.Validate();
        int world = s.GpusPerNode * s.Nodes;
        var (exe, prefixArgs) = SelfCommand();
        var children = new List<Process>();
        for (int local = 0; local < s.GpusPerNode; local++)
        {
            int rank = s.NodeRank * s.GpusPerNode + local;
            var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = rank != 0, RedirectStandardError = rank != 0 };
            foreach (var a in prefixArgs.Concat(childArgs)) psi.ArgumentList.Add(a);
            psi.Environment["FINQLORA_RANK"] = rank.ToString();
            psi.Environment["FINQLORA_LOCAL_RANK"] = local.ToString();
            psi.Environment["FINQLORA_WORLD_SIZE"] = world.ToString();
            psi.Environment["FINQLORA_MASTER_ADDR"] = s.MasterAddr;
            psi.Environment["FINQLORA_MASTER_PORT"] = s.MasterPort.ToString();
            // each process sees only its GPU (as cuda:0); NVLink SHARP/multicast stays off
            var visible = Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES")?.Split(',', StringSplitOptions.RemoveEmptyEntries);
            psi.Environment["CUDA_VISIBLE_DEVICES"] = visible is { Length: > 0 } ? visible[local % visible.Length] : local.ToString();
            psi.Environment["FINQLORA_ONE_GPU_PER_PROCESS"] = "1";
            if (Environment.GetEnvironmentVariable("NCCL_NVLS_ENABLE") is null) psi.Environment["NCCL_NVLS_ENABLE"] = "0";
            var p = Process.Start(psi)!;
            if (rank != 0)
            {
                p.OutputDataReceived += (_, e) => { if (e.Data is not null) Console.WriteLine($"[rank {rank}] {e.Data}"); };
                p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine($"[rank {rank}] {e.Data}"); };
                p.BeginOutputReadLine();
                p.BeginErrorReadLine();
            }
            children.Add(p);
        }
        int exit = 0;
        var pending = children.ToList();
        while (pending.Count > 0)
        {
            foreach (var p in pending.Where(p => p.HasExited).ToList())
            {
                pending.Remove(p);
                if (p.ExitCode != 0 && exit == 0)
                {
                    exit = p.ExitCode;
                    foreach (var other in pending) try { other.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
                }
            }
            Thread.Sleep(100);
        }
        return exit;
    }

    /// <summary>How to start this program again: the apphost, or `dotnet finqlora.dll`.</summary>
    private static (string Exe, string[] Prefix) SelfCommand()
    {
        var path = Environment.ProcessPath ?? throw new FinQLoraException("cannot find this program's path to start the GPU processes");
        if (Path.GetFileNameWithoutExtension(path) == "dotnet") return (path, [Environment.GetCommandLineArgs()[0]]);
        return (path, []);
    }
}
