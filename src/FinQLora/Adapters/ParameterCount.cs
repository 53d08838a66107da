using System.Globalization;
using FinQLora.Model;

namespace FinQLora.Adapters;

/// <summary>Trainable and total parameter counts, printed as PEFT's print_trainable_parameters prints them.</summary>
public sealed record ParameterReport(long Trainable, long Total)
{
    public double TrainablePercent => Total == 0 ? 0 : 100.0 * Trainable / Total;

    /// <summary>"trainable params: 13,631,488 || all params: 8,043,892,736 || trainable%: 0.1695"</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"trainable params: {Trainable:N0} || all params: {Total:N0} || trainable%: {TrainablePercent:F4}");
}

/// <summary>
/// Parameter counts worked out from a config's shapes alone (no weights are allocated), the way
/// PEFT counts them: all params = the base model's parameters (4-bit weights counted unpacked) plus
/// the adapter's; trainable = the adapter's lora_A [r, in] and lora_B [out, r] on every targeted projection.
/// </summary>
public static class ParameterCount
{
    /// <summary>The base model: embeddings, every layer's projections and norms, the final norm, and lm_head unless tied.</summary>
    public static long Base(LlamaConfig c)
    {
        long d = c.HiddenSize;
        long perLayer = 2 * d;   // input_layernorm, post_attention_layernorm
        foreach (var name in LlamaProjections.Names)
        {
            var (o, i) = LlamaProjections.Shape(c, name);
            perLayer += o * i;
        }
        long embed = (long)c.VocabSize * d;
        return embed + c.NumHiddenLayers * perLayer + d + (c.TieWordEmbeddings ? 0 : embed);
    }

    /// <summary>One adapter's parameters: r · (in + out) per targeted projection of each targeted layer.</summary>
    public static long Lora(LlamaConfig c, LoraSettings settings)
    {
        var s = settings.Validated(c.NumHiddenLayers);
        long perLayer = s.Targets.Sum(t =>
        {
            var (o, i) = LlamaProjections.Shape(c, t);
            return (long)s.R * (i + o);
        });
        int layers = s.Layers?.Distinct().Count() ?? c.NumHiddenLayers;
        return perLayer * layers;
    }

    /// <summary>What PEFT prints after get_peft_model(base, LoraConfig(...)): the adapter trainable, the base frozen.</summary>
    public static ParameterReport Report(LlamaConfig c, LoraSettings settings)
    {
        long lora = Lora(c, settings);
        return new ParameterReport(lora, Base(c) + lora);
    }
}
