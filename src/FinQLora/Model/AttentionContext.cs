using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// What every layer's attention needs for one forward call: RoPE cos/sin for the query positions,
/// and either a causal flag (no padding, no cache) or an explicit boolean mask [b, 1, s, t]
/// (true = may attend).
/// </summary>
public sealed record AttentionContext(Tensor Cos, Tensor Sin, Tensor? Mask, bool IsCausal, IKvCache? Cache);
