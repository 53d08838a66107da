namespace FinQLora.Inference;

/// <summary>
/// The error when a forward pass produces NaN or Inf logits. Weights are checked finite when read
/// (<see cref="IO.SafeTensorsFile.Load"/>), so this is an overflow in the compute dtype (float16's
/// range ends at 65504) or an adapter that blows the activations up; a result computed from such logits
/// would be garbage with exit code 0, so nothing is written.
/// </summary>
public static class NonFiniteLogits
{
    public static FinQLoraException Error(string during) =>
        new($"{during}: the model produced NaN or Inf logits although its weight files are finite: the activations overflowed the compute dtype; " +
            "use bfloat16 or float32 (float16 overflows above 65504), or check the adapter (a huge lora_alpha)");
}
