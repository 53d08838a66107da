using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Pre-allocated key/value cache for generation: per layer [b, h_kv, capacity, d_h]. Each layer
/// writes its new keys/values at the current length; the model advances the length once per forward.
/// </summary>
public sealed class KvCache : IKvCache, IDisposable
{
    private readonly Tensor[] _k, _v;

    public int Length { get; private set; }
    public int Capacity { get; }

    public bool IsEmpty => Length == 0;

    /// <summary>
    /// A cache over given per-layer tensors ([b, h_kv, capacity, d_h] each, e.g. views of one row of a
    /// <see cref="SlotKvCache"/>), starting empty; disposing it disposes only these handles, not the storage they view.
    /// </summary>
    public KvCache(IReadOnlyList<Tensor> keys, IReadOnlyList<Tensor> values)
    {
        _k = keys.ToArray();
        _v = values.ToArray();
        Capacity = (int)_k[0].shape[2];
    }

    public KvCache(int layers, long batch, long kvHeads, int capacity, long headDim, ScalarType dtype, Device device)
    {
        Capacity = capacity;
        _k = new Tensor[layers];
        _v = new Tensor[layers];
        for (int i = 0; i < layers; i++)
        {
            _k[i] = zeros([batch, kvHeads, capacity, headDim], dtype, device);
            _v[i] = zeros([batch, kvHeads, capacity, headDim], dtype, device);
        }
    }

    /// <summary>Stores k/v ([b, h_kv, s, d_h]) at the current length and returns views over everything cached so far ([b, h_kv, t, d_h]).</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        long s = k.shape[2];
        if (Length + s > Capacity) throw new FinQLoraException($"KV cache full: {Length} + {s} > capacity {Capacity}");
        _k[layer].narrow(2, Length, s).copy_(k);
        _v[layer].narrow(2, Length, s).copy_(v);
        return (_k[layer].narrow(2, 0, Length + s), _v[layer].narrow(2, 0, Length + s));
    }

    public void Advance(int steps) => Length += steps;

    public void Dispose()
    {
        foreach (var t in _k) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
