namespace FinQLora.Distributed;

/// <summary>
/// This process's place in a data-parallel run, read from the environment the launcher sets
/// (FINQLORA_RANK, FINQLORA_LOCAL_RANK, FINQLORA_WORLD_SIZE, FINQLORA_MASTER_ADDR, FINQLORA_MASTER_PORT).
/// </summary>
public sealed record DistributedContext(int Rank, int LocalRank, int WorldSize, string MasterAddr, int MasterPort)
{
    public static readonly DistributedContext Single = new(0, 0, 1, "127.0.0.1", 29500);

    public bool IsMain => Rank == 0;

    public static DistributedContext FromEnvironment()
    {
        var world = Environment.GetEnvironmentVariable("FINQLORA_WORLD_SIZE");
        if (string.IsNullOrEmpty(world)) return Single;
        int Int(string name) => int.TryParse(Environment.GetEnvironmentVariable(name), out var v) ? v
            : throw new FinQLoraException($"{name} must be an integer (set by `finqlora train --gpus`)");
        return new DistributedContext(Int("FINQLORA_RANK"), Int("FINQLORA_LOCAL_RANK"), Int("FINQLORA_WORLD_SIZE"),
            Environment.GetEnvironmentVariable("FINQLORA_MASTER_ADDR") ?? "127.0.0.1", Int("FINQLORA_MASTER_PORT"));
    }

    /// <summary>The communicator for this process: NCCL when there are several ranks.</summary>
    public ICommunicator CreateCommunicator() =>
        WorldSize == 1 ? new SingleProcessCommunicator() : NcclCommunicator.Create(Rank, WorldSize, MasterAddr, MasterPort, TimeSpan.FromMinutes(5));
}
