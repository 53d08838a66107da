namespace FinQLora.Runs;

/// <summary>
/// The files of a run folder, in one place:
/// <code>
/// OUTPUT/config.yaml            the resolved config (every key)
/// OUTPUT/metrics.jsonl          train and val lines
/// OUTPUT/gpu.jsonl              NVML samples, one a second (or one line saying there is no GPU)
/// OUTPUT/tensorboard/           TensorBoard event files
/// OUTPUT/checkpoints/step-NNNNNN/
/// OUTPUT/adapter/               the final adapter (PEFT format)
/// OUTPUT/model/                 training.method full: the trained model (Hugging Face folder), instead of adapter/
/// </code>
/// </summary>
public sealed record RunLayout(string Output)
{
    public string Config => Path.Combine(Output, ConfigFile);
    public string Metrics => Path.Combine(Output, "metrics.jsonl");
    public string Gpu => Path.Combine(Output, "gpu.jsonl");
    public string TensorBoard => Path.Combine(Output, "tensorboard");
    public string Checkpoints => Path.Combine(Output, "checkpoints");
    public string FinalAdapter => FinalAdapterDirOf(Output);
    public string FinalModel => FinalModelDirOf(Output);
    /// <summary>What a finished stage leaves: its model folder (<paramref name="fullModel"/>: training.method full) or its adapter.</summary>
    public string FinalOf(bool fullModel) => fullModel ? FinalModel : FinalAdapter;

    public static string FinalAdapterDirOf(string output) => Path.Combine(output, AdapterDir);
    public static string FinalModelDirOf(string output) => Path.Combine(output, ModelDir);

    /// <summary>Whether the stage finished: its final adapter's weights, or (full) its model folder, are there.</summary>
    public bool Finished(bool fullModel) => fullModel
        ? File.Exists(Path.Combine(FinalModel, "config.json"))
        : File.Exists(Path.Combine(FinalAdapter, Adapters.PeftAdapterFiles.WeightsFile));

    // the files inside a checkpoint folder (CheckpointStore adds manifest.json and COMPLETE)
    public const string AdapterDir = "adapter";
    public const string ModelDir = "model";
    public const string TrainableFile = "trainable.safetensors";
    public const string OptimizerFile = "optimizer.safetensors";  // AdamW.Save
    public const string TrainerStateFile = "trainer_state.json";
    public const string ConfigFile = "config.yaml";
}
