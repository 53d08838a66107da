using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// The key/value cache of a continuous-batching server: per layer [slots, h_kv, capacity, d_h], one row
/// ("slot") per running request, each row at its own length. A request's prompt is prefilled into its
/// row through <see cref="Slot"/> (a plain <see cref="KvCache"/> over that row); then every decode step
/// appends one token per row, row r at position <c>positions[r]</c>, and attends over the whole capacity
/// (the caller's mask hides what a row has not written).
/// </summary>
public sealed class SlotKvCache : IKvCache, IDisposable
{
    private readonly Tensor[] _k, _v;
    private Tensor? _writeIndex;   // [slots, h_kv, 1, d_h] int64: where this step's token of each row goes

    public int Slots { get; }
    public int Capacity { get; }

    public SlotKvCache(int layers, int slots, long kvHeads, int capacity, long headDim, ScalarType dtype, Device device)
    {
        Slots = slots;
        Capacity = capacity;
        _k = new Tensor[layers];
        _v = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            _k[i] = zeros([slots, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
            _v[i] = zeros([slots, kvHeads, capacity, headDim], dtype, device).DetachFromDisposeScope();
        }
    }

    /// <summary>An empty cache over row <paramref name="slot"/> (views: what the prefill writes lands in this cache).</summary>
    public KvCache Slot(int slot) => new(_k.Select(t => t.narrow(0, slot, 1)).ToList(), _v.Select(t => t.narrow(0, slot, 1)).ToList());

    /// <summary>Sets where the next decode step writes: <paramref name="positions"/> [slots] int64 on the cache's device.</summary>
    public void SetWritePositions(Tensor positions)
    {
        _writeIndex?.Dispose();
        long kvHeads = _k[0].shape[1], headDim = _k[0].shape[3];
        using var scope = NewDisposeScope();
        _writeIndex = positions.view(Slots, 1, 1, 1).expand(Slots, kvHeads, 1, headDim).contiguous().DetachFromDisposeScope();
    }

    /// <summary>k/v: [slots, h_kv, 1, d_h], written at each row's position; returns the whole cache [slots, h_kv, capacity, d_h].</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        if (_writeIndex is null) throw new InvalidOperationException("SetWritePositions must be called before a decode step");
        if (k.shape[0] != Slots || k.shape[2] != 1) throw new InvalidOperationException($"a decode step appends one token per slot, got [{string.Join(", ", k.shape)}]");
        _k[layer].scatter_(2, _writeIndex, k);
        _v[layer].scatter_(2, _writeIndex, v);
        return (_k[layer], _v[layer]);   // the cache's own tensors: no new handle for a scope to dispose
    }

    /// <summary>Each row's length is kept by the caller, which sets the next positions.</summary>
    public void Advance(int steps) { }

    public bool IsEmpty => false;

    public void Dispose()
    {
        _writeIndex?.Dispose();
        foreach (var t in _k) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
