using static TorchSharp.torch;

namespace FinQLora.Distributed;

/// <summary>
/// A communicator group of threads in one process (CPU tensors): each thread holds one rank's
/// communicator. Used by the tests of the sharding and gradient-averaging logic.
/// </summary>
public sealed class InProcessGroup
{
    private readonly Barrier _barrier;
    private readonly Tensor?[] _slots;

    public int WorldSize { get; }

    public InProcessGroup(int worldSize)
    {
        WorldSize = worldSize;
        _barrier = new Barrier(worldSize);
        _slots = new Tensor?[worldSize];
    }

    public ICommunicator Rank(int rank) => new Member(this, rank);

    private sealed class Member(InProcessGroup group, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int WorldSize => group.WorldSize;

        public void AllReduceSum(Tensor tensor)
        {
            group._slots[rank] = tensor;
            group._barrier.SignalAndWait();
            using var sum = group._slots.Select(t => t!.clone()).Aggregate((a, b) => a + b);
            group._barrier.SignalAndWait();   // everyone has read every slot
            tensor.copy_(sum);
            group._barrier.SignalAndWait();
        }

        public void Broadcast(Tensor tensor, int root)
        {
            group._slots[rank] = tensor;
            group._barrier.SignalAndWait();
            using var value = group._slots[root]!.clone();
            group._barrier.SignalAndWait();
            tensor.copy_(value);
            group._barrier.SignalAndWait();
        }

        public void Dispose() { }
    }
}
