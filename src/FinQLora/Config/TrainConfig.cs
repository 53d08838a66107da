using FinQLora.Adapters;

namespace FinQLora.Config;

// The training configuration, one immutable record per YAML section. Keys are the snake_case
// forms of the property names (MaxLength ↔ max_length); every property's initial value is the
// default used when the key is absent. Adding a property adds a key: the loader, the `--set`
// overrides, the resolved-config writer and the docs test all work from these records.

/// <summary>One training stage: `finqlora train --config FILE`.</summary>
public sealed record TrainConfig
{
    /// <summary>The stage's name, used in metrics.jsonl and the progress display.</summary>
    public string Stage { get; init; } = "train";
    /// <summary>The run folder: resolved config, metrics, checkpoints, final adapter.</summary>
    public string Output { get; init; } = "runs/train";
    /// <summary>An adapter (PEFT folder) to start from; in a curriculum "@STAGE" names an earlier stage's final adapter.</summary>
    public string? InitAdapter { get; init; }
    /// <summary>How <see cref="InitAdapter"/> is used: frozen and stacked under the new adapter, merged into the base weights,
    /// or trained further itself (continue: its adapter_config.json gives the lora shape).</summary>
    public InitAdapterMode InitAdapterMode { get; init; } = InitAdapterMode.Stack;
    public ModelSection Model { get; init; } = new();
    public LoraSection Lora { get; init; } = new();
    public DataSection Data { get; init; } = new();
    public TrainingSection Training { get; init; } = new();
    public CheckpointSection Checkpoint { get; init; } = new();
    public LoggingSection Logging { get; init; } = new();
}

public enum InitAdapterMode { Stack, Merge, Continue }

public sealed record ModelSection
{
    /// <summary>A Hugging Face model folder, or "tiny" for the deterministic tiny random-weight Llama-3 model.</summary>
    public string Path { get; init; } = "tiny";
    /// <summary>Compute dtype: bfloat16 (GPU) or float32 (CPU).</summary>
    public string Dtype { get; init; } = "float32";
    public Quantize Quantize { get; init; } = Quantize.Nf4;
    /// <summary>cpu, cuda or cuda:N.</summary>
    public string Device { get; init; } = "cpu";
}

public enum Quantize { None, Nf4 }

public sealed record LoraSection
{
    public int R { get; init; } = 16;
    public double Alpha { get; init; } = 32;
    public double Dropout { get; init; } = 0.05;
    /// <summary>Projection names (q_proj … down_proj), or ["all-linear"] for all seven.</summary>
    public IReadOnlyList<string> Targets { get; init; } = ["q_proj", "k_proj", "v_proj", "o_proj"];
    /// <summary>Rank-stabilised scaling alpha/sqrt(r) instead of alpha/r.</summary>
    public bool Rslora { get; init; }
    /// <summary>Decoder layer indices that get adapters; null for all.</summary>
    public IReadOnlyList<int>? Layers { get; init; }
    /// <summary>dtype of the trainable LoRA weights: float32 or bfloat16 (optimizer states are float32 either way).</summary>
    public string TrainableDtype { get; init; } = "float32";

    /// <summary>The adapter these keys describe (its scaling, its expanded targets: <see cref="LoraSettings"/>).</summary>
    public LoraSettings ToSettings() => new(R, Alpha, Dropout, Targets, Rslora, Layers, TrainableDtype);
}

public sealed record DataSection
{
    /// <summary>The folder with the FLARE data (or samples/ for the bundled extracts).</summary>
    public string Dir { get; init; } = "data";
    public IReadOnlyList<string> Tasks { get; init; } = [];
    public int MaxLength { get; init; } = 2048;
    /// <summary>Examples longer than max_length: drop them, or cut tokens from the left of the prompt.</summary>
    public Truncation Truncation { get; init; } = Truncation.Drop;
    /// <summary>Pack several examples into one max_length row (attention kept within each example).</summary>
    public bool Packing { get; init; }
    /// <summary>How the tasks are mixed: in proportion to their sizes, or with probabilities ∝ size^(1/temperature).</summary>
    public Mixing Mixing { get; init; } = Mixing.Proportional;
    public double Temperature { get; init; } = 1.0;
    /// <summary>A system prompt for the chat format; null for none.</summary>
    public string? SystemPrompt { get; init; }
    /// <summary>Skip (and count) malformed rows instead of stopping.</summary>
    public bool SkipBadRows { get; init; }
}

public enum Truncation { Drop, Left }

public enum Mixing { Proportional, Temperature }

public sealed record TrainingSection
{
    public TrainingMethod Method { get; init; } = TrainingMethod.Qlora;
    public int Epochs { get; init; } = 1;
    /// <summary>Stop after this many optimizer steps; null for epochs × steps per epoch.</summary>
    public int? MaxSteps { get; init; }
    public int BatchSize { get; init; } = 1;
    public int GradAccum { get; init; } = 1;
    public double Lr { get; init; } = 2e-4;
    public double WeightDecay { get; init; }
    public IReadOnlyList<double> Betas { get; init; } = [0.9, 0.999];
    public double Eps { get; init; } = 1e-8;
    public Schedule Schedule { get; init; } = Schedule.Cosine;
    /// <summary>Linear warm-up steps; give this or warmup_ratio, not both.</summary>
    public int? WarmupSteps { get; init; }
    /// <summary>Warm-up as a fraction of the total steps.</summary>
    public double? WarmupRatio { get; init; }
    /// <summary>Clip the global gradient norm to this; 0 turns clipping off.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    public bool GradCheckpointing { get; init; } = true;
    /// <summary>Positions per slice of the chunked cross-entropy.</summary>
    public int LossChunkSize { get; init; } = 1024;
    public long Seed { get; init; } = 42;
    /// <summary>Steps with a NaN/Inf loss or gradient norm are skipped; this many in a row stop the run (with a checkpoint).</summary>
    public int NanGuardMaxConsecutive { get; init; } = 5;

    /// <summary>Sequences per optimizer step.</summary>
    public int EffectiveBatchSize => BatchSize * GradAccum;

    /// <summary>Warm-up steps for a run of <paramref name="totalSteps"/>: warmup_steps, or ⌈warmup_ratio × total⌉, or 0.</summary>
    public int ResolveWarmupSteps(int totalSteps) =>
        WarmupSteps ?? (WarmupRatio is { } r ? (int)Math.Ceiling(r * totalSteps) : 0);
}

public enum TrainingMethod { Qlora, Lora, Full }

public enum Schedule { Constant, Linear, Cosine }

public sealed record CheckpointSection
{
    /// <summary>Save a checkpoint every this many optimizer steps (and always at the end); 0 only at the end.</summary>
    public int EverySteps { get; init; } = 100;
    /// <summary>Keep this many newest checkpoints; older ones are deleted.</summary>
    public int KeepLast { get; init; } = 2;
    /// <summary>
    /// "TASK.METRIC" (e.g. fpb.f1) or "mean" (the mean of each task's headline metric): the adapter of the step with the
    /// best value of the task metrics logged during training (logging.eval_tasks_every_steps) is kept as OUTPUT/best-adapter;
    /// null keeps none.
    /// </summary>
    public string? SelectBest { get; init; }
}

public sealed record LoggingSection
{
    /// <summary>Write a train line to metrics.jsonl every this many optimizer steps.</summary>
    public int EverySteps { get; init; } = 10;
    /// <summary>Compute the validation loss every this many steps; 0 turns it off.</summary>
    public int EvalEverySteps { get; init; } = 100;
    /// <summary>Also write TensorBoard event files under tensorboard/.</summary>
    public bool Tensorboard { get; init; } = true;
    /// <summary>Generate on a fixed subset of each task's rows and log the FLARE metrics every this many steps (and at the end); 0 turns it off.</summary>
    public int EvalTasksEverySteps { get; init; }
    /// <summary>Rows per task in that subset: the first N rows of the split.</summary>
    public int EvalTasksRows { get; init; } = 32;
    /// <summary>The split the subset is taken from (valid, or test where a task has no valid split).</summary>
    public string EvalTasksSplit { get; init; } = "valid";
    /// <summary>Most tokens generated per row of the subset.</summary>
    public int EvalTasksMaxNewTokens { get; init; } = 64;
}
