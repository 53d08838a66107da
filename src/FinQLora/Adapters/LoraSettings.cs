using FinQLora.Model;

namespace FinQLora.Adapters;

/// <summary>
/// One adapter's shape: rank, alpha, dropout, which projections (by module name) and which layers.
/// Scaling is alpha / r, or alpha / sqrt(r) with rsLoRA (PEFT's use_rslora).
/// </summary>
public sealed record LoraSettings(int R, double Alpha, double Dropout, IReadOnlyList<string> Targets,
    bool UseRslora = false, IReadOnlyList<int>? Layers = null, string TrainableDType = "float32")
{
    public double Scaling => UseRslora ? Alpha / Math.Sqrt(R) : Alpha / R;

    /// <summary>Expands "all-linear" and checks names, rank, dropout; errors name the bad value and the fix.</summary>
    public LoraSettings Validated(int numLayers)
    {
        if (R <= 0) throw new FinQLoraException($"lora.r must be > 0, got {R}");
        if (Alpha <= 0) throw new FinQLoraException($"lora.alpha must be > 0, got {Alpha}");
        if (Dropout is < 0 or >= 1) throw new FinQLoraException($"lora.dropout must be in [0, 1), got {Dropout}");
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
