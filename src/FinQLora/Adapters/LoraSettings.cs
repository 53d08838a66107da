using FinQLora.Model;

namespace FinQLora.Adapters;

/// <summary>
/// One adapter's shape: rank, alpha, dropout, which projections (by module name) and which layers.
/// Scaling is alpha / r, or alpha / sqrt(r) with rsLoRA (PEFT's use_rslora).
/// </summary>
public sealed record LoraSettings(int R, double Alpha, double Dropout, IReadOnlyList<string> Targets,
    bool UseRslora = false, IReadOnlyList<int>? Layers = null, string TrainableDType = "float32", IReadOnlyList<string>? Exclude = null)
{
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(R) : Alpha / R;

    /// <summary>
    /// Whether the adapter applies to the projection at <paramref name="modulePath"/> ("model.layers.3.self_attn.q_proj"):
    /// its name is a target, its layer is in <see cref="Layers"/> (when given), and no <see cref="Exclude"/> entry names it.
    /// PEFT wraps exactly these modules; tensors in an adapter file for any other module are not applied.
    /// </summary>
    public bool Applies(string modulePath) =>
        Targets.Contains(modulePath[(modulePath.LastIndexOf('.') + 1)..])
        && (Layers is null || Layers.Contains(LoraInjector.LayerIndex(modulePath)))
        && !(Exclude ?? []).Any(e => modulePath == e || modulePath.EndsWith("." + e, StringComparison.Ordinal));

    /// <summary>Expands "all-linear" and checks names, rank, dropout; errors name the bad value and the fix.</summary>
    public LoraSettings Validated(int numLayers)
    {
        if (R <= 0) throw new FinQLoraException($"lora.r must be > 0, got {R}");
        if (Alpha <= 0) throw new FinQLoraException($"lora.alpha must be > 0, got {Alpha}");
        if (Dropout is < 0 or >= 1) throw new FinQLoraException($"lora.dropout must be in [0, 1), got {Dropout}");
        // the scaling multiplies activations in the compute dtype: finite as a double is not enough (1e300 is +inf in float32/bfloat16)
        if (!float.IsFinite((float)Scaling) || !float.IsFinite((float)Alpha))
            throw new FinQLoraException($"lora.alpha {Alpha:G6} gives a scaling of {Scaling:G6}, which is infinite in float32/bfloat16 (largest {float.MaxValue:G3}): use a realistic lora.alpha (typically r or 2r)");
        var targets = ExpandTargets(Targets);
        if (Layers is { } layers && layers.FirstOrDefault(l => l < 0 || l >= numLayers) is var bad && layers.Any(l => l < 0 || l >= numLayers))
            throw new FinQLoraException($"lora.layers: layer {bad} does not exist (the model has layers 0..{numLayers - 1})");
        if (TrainableDType is not ("float32" or "bfloat16"))
            throw new FinQLoraException($"lora.trainable_dtype must be float32 or bfloat16, got '{TrainableDType}'");
        return this with { Targets = targets };
    }

    public static IReadOnlyList<string> ExpandTargets(IEnumerable<string> targets)
    {
        var list = targets.Select(t => t.Trim()).Where(t => t.Length > 0).ToList();
        if (list.Count == 0) throw new FinQLoraException($"lora.targets is empty; use module names ({string.Join(", ", LlamaProjections.Names)}) or all-linear");
        if (list.Contains("all-linear")) return LlamaProjections.Names;
        var unknown = list.Where(t => !LlamaProjections.Names.Contains(t)).ToList();
        if (unknown.Count > 0)
            throw new FinQLoraException($"unknown LoRA target(s) {string.Join(", ", unknown)}; valid: {string.Join(", ", LlamaProjections.Names)} or all-linear");
        return LlamaProjections.Names.Where(list.Contains).ToList();
    }
}
