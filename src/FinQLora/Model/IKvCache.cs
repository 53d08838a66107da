using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// Where attention keeps keys and values between forward calls. Two kinds: <see cref="KvCache"/>
/// (every row at one length: batch generation, and one serving slot's prefill) and
/// <see cref="SlotKvCache"/> (one decode token per row, each row at its own length: continuous batching).
/// </summary>
public interface IKvCache
{
    /// <summary>Stores this call's k/v ([b, h_kv, s, d_h]) of <paramref name="layer"/> and returns the keys and values to attend to ([b, h_kv, t, d_h]).</summary>
    (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v);

    /// <summary>Called once per forward, after every layer appended, with the number of new positions.</summary>
    void Advance(int steps);

    /// <summary>True before the first forward: attention may then use the plain causal mask over this call's own tokens.</summary>
    bool IsEmpty { get; }
}
