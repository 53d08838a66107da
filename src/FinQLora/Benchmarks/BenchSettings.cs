using FinQLora.Model;

namespace FinQLora.Benchmarks;

/// <summary>What `finqlora bench` measures: a training step (qlora, lora, full) or greedy decoding, on random weights of a shape.</summary>
public sealed record BenchSettings(
    string Shape, string Method, int LoraR, double LoraAlpha, IReadOnlyList<string> Targets,
    int Batch, int Seq, int Steps, int Warmup, bool GradientCheckpointing, string Device, string DType,
    bool Generate = false, int PromptLen = 512, int NewTokens = 64, int LossChunk = 1024, long Seed = 0, bool Profile = false, bool Tf32 = false)
{
    public LlamaConfig ResolveShape() => ModelShapes.Resolve(Shape);
}

/// <summary>One benchmark's numbers; serialized snake_case (<see cref="BenchJson"/>), the JSON `finqlora report --bench` reads.</summary>
public sealed record BenchResult
{
    public string Side { get; init; } = "finqlora";
    public string Method { get; init; } = "";
    public string Shape { get; init; } = "";
    public int Batch { get; init; }
    public int? Seq { get; init; }
    public int? PromptLen { get; init; }
    public int? NewTokens { get; init; }
    public string? GradCkpt { get; init; }
    public int? LoraR { get; init; }
    public string? Targets { get; init; }
    public double? StepTimeMs { get; init; }
    public double? TokensPerS { get; init; }
    public double? TotalTimeMs { get; init; }
    public double? NewTokensPerS { get; init; }
    public double? PeakAllocatedGib { get; init; }
    public double? PeakReservedGib { get; init; }
    public double ResidentGib { get; init; }
    public long TrainableParams { get; init; }
    public long TotalParams { get; init; }
    public long? StorageBytes { get; init; }
    public double? Mfu { get; init; }
    public string Device { get; init; } = "";
    public string? Note { get; init; }
    /// <summary>With --profile: median GPU and host milliseconds per phase of a step (forward, loss, backward, optimizer).</summary>
    public IReadOnlyList<PhaseTime>? Phases { get; init; }
    /// <summary>With --profile: one decoder layer's parts timed alone (see <see cref="LayerProfile"/>).</summary>
    public IReadOnlyList<PhaseTime>? LayerProfile { get; init; }
}

/// <summary>JSON options for bench results: snake_case names, nulls left out.</summary>
public static class BenchJson
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
