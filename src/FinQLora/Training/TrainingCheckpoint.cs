using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Runs;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>The parts of a run that a checkpoint is written from and restored into.</summary>
/// <param name="ResumeCommand">the command line that resumes the run, which ends the message of a full disk</param>
public sealed record CheckpointContents(TrainConfig Config, LlamaForCausalLM Model, TrainableSet Trainable, AdamW Optimizer,
    string ModelDir, string ResumeCommand, TrainingHooks Hooks);

/// <summary>
/// A training checkpoint's files (inside a <see cref="CheckpointStore"/> folder): the adapter in PEFT format (not for
/// method full), the exact trainable tensors, the optimizer state, the trainer state and the config.
/// </summary>
public static class TrainingCheckpoint
{
    /// <summary>
    /// Writes the checkpoint of <paramref name="state"/>'s step; returns its folder. A full disk stops the run with
    /// <see cref="DiskFullException"/>, whose message ends with the command that resumes it.
    /// </summary>
    public static string Save(CheckpointStore store, CheckpointContents c, TrainerState state, Action<string> log)
    {
        try
        {
            return store.Save(state.Step, dir =>
            {
                if (c.Config.Training.Method != TrainingMethod.Full)
                    PeftAdapterFiles.Save(Path.Combine(dir, RunLayout.AdapterDir), c.Model, TrainingModel.AdapterName, c.Trainable.Lora, c.ModelDir);
                SafeTensorsWriter.Write(Path.Combine(dir, RunLayout.TrainableFile), c.Trainable.Parameters.Select(p => KeyValuePair.Create(p.Name, (Tensor)p.Param)));
                c.Hooks.BeforeOptimizerState(state.Step, Path.Combine(dir, RunLayout.OptimizerFile));
                c.Optimizer.Save(Path.Combine(dir, RunLayout.OptimizerFile));
                state.Save(Path.Combine(dir, RunLayout.TrainerStateFile));
                ConfigWriter.Write(Path.Combine(dir, RunLayout.ConfigFile), c.Config);
            }, log);
        }
        catch (DiskFullException e)
        {
            throw new DiskFullException($"{e.Message} with: {c.ResumeCommand}", e.Path, e.NeededBytes, e.InnerException ?? e);
        }
    }

    /// <summary>Loads checkpoint folder <paramref name="dir"/>'s trainable tensors and optimizer state; returns its trainer state.</summary>
    public static TrainerState Restore(string dir, CheckpointContents c)
    {
        var state = TrainerState.Load(Path.Combine(dir, RunLayout.TrainerStateFile));
        LoadTrainable(Path.Combine(dir, RunLayout.TrainableFile), c.Trainable.Parameters);
        c.Optimizer.Load(Path.Combine(dir, RunLayout.OptimizerFile));
        return state;
    }

    private static void LoadTrainable(string path, IReadOnlyList<(string Name, TorchSharp.Modules.Parameter Param)> trainable)
    {
        using var file = SafeTensorsFile.Open(path);
        using var _ = no_grad();
        foreach (var (name, p) in trainable)
        {
            if (!file.Contains(name)) throw new FinQLoraException($"{path}: checkpoint lacks '{name}' (was it made with another config?)");
            using var w = file.Load(name, p.device, p.dtype);
            if (!w.shape.SequenceEqual(p.shape)) throw new FinQLoraException($"{path}: '{name}' has shape [{string.Join(", ", w.shape)}], the model expects [{string.Join(", ", p.shape)}]");
            p.copy_(w);
        }
    }
}
