using static TorchSharp.torch;

namespace FinQLora.Distributed;

/// <summary>
/// The collective operations data-parallel training needs. Implementations: NCCL across processes
/// (<see cref="NcclCommunicator"/>), a single process (<see cref="SingleProcessCommunicator"/>), and
/// threads in one process for tests (<see cref="InProcessGroup"/>).
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int WorldSize { get; }
    /// <summary>In place: every rank's tensor becomes the element-wise sum over ranks.</summary>
    void AllReduceSum(Tensor tensor);
    /// <summary>In place: every rank's tensor becomes rank <paramref name="root"/>'s.</summary>
    void Broadcast(Tensor tensor, int root);
}

/// <summary>World size 1: every collective is the identity.</summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public int Rank => 0;
    public int WorldSize => 1;
    public void AllReduceSum(Tensor tensor) { }
    public void Broadcast(Tensor tensor, int root) { }
    public void Dispose() { }
}
