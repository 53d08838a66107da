using FinQLora.Config;
using FinQLora.Model;
using FinQLora.Tasks;

namespace FinQLora.Training;

/// <summary>
/// What a stage needs, checked before its run folder is touched or the model is loaded (an 8B load takes minutes):
/// the device, the model folder, each task's train split in data.dir, the init adapter. Every problem is reported at
/// once, naming the config key (and the config file, when known). A run that replaces its output folder
/// (replacing: --overwrite) refuses any input inside that folder: deleting it would delete the input.
/// </summary>
public static class RunPreflight
{
    public static void Check(TrainConfig cfg, string? configFile, bool multiGpu, bool replacing = false)
    {
        var from = configFile is null ? "" : $" (in {configFile})";
        var problems = new List<string>();
        int exitCode = 1;
        if (!multiGpu)
        {
            try { DeviceSpec.Parse(cfg.Model.Device, $"model.device{from}"); }
            catch (FinQLoraException e) { problems.Add(e.Message); exitCode = e.ExitCode; }
        }
        if (cfg.Model.Path != TinyModel.Name && !cfg.Model.Path.StartsWith(Inference.ModelBundle.RandomPrefix, StringComparison.Ordinal)
            && !File.Exists(Path.Combine(cfg.Model.Path, "config.json")))
            problems.Add($"model.path {cfg.Model.Path}{from}: {(Directory.Exists(cfg.Model.Path) ? "no config.json there (not a Hugging Face model folder)" : "no such folder")}");
        if (!Directory.Exists(cfg.Data.Dir))
            problems.Add($"data.dir {cfg.Data.Dir}{from}: no such folder (prepare it with `finqlora prepare-data --output {cfg.Data.Dir}`)");
        else
            foreach (var task in cfg.Data.Tasks.Select(FlareTasks.Get))
                if (!File.Exists(Path.Combine(cfg.Data.Dir, task.Name, "train.jsonl")))
                    problems.Add($"data.dir {cfg.Data.Dir}{from}: no {task.Name}/train.jsonl (prepare it with `finqlora prepare-data --tasks {task.Name} --output {cfg.Data.Dir}`)");
        if (cfg.InitAdapter is { } init && !File.Exists(Path.Combine(init, Adapters.PeftAdapterFiles.WeightsFile)) && !init.StartsWith('@'))
            problems.Add($"init_adapter {init}{from}: no {Adapters.PeftAdapterFiles.WeightsFile} there");
        if (replacing)
            foreach (var (key, path) in Inputs(cfg).Where(i => IO.FolderPath.IsWithin(i.Path, cfg.Output)))
            {
                exitCode = 2;
                problems.Add($"{key} {path}{from} lies inside output {cfg.Output}, which --overwrite deletes first: copy it elsewhere or choose another output");
            }
        if (problems.Count == 1) throw new FinQLoraException(problems[0] + "; nothing was written", exitCode);
        if (problems.Count > 1)
            throw new FinQLoraException($"the stage '{cfg.Stage}' cannot start, {problems.Count} problems (nothing was written):\n  " + string.Join("\n  ", problems), exitCode);
    }

    private static IEnumerable<(string Key, string Path)> Inputs(TrainConfig cfg)
    {
        if (cfg.Model.Path != TinyModel.Name && !cfg.Model.Path.StartsWith(Inference.ModelBundle.RandomPrefix, StringComparison.Ordinal))
            yield return ("model.path", cfg.Model.Path);
        yield return ("data.dir", cfg.Data.Dir);
        if (cfg.InitAdapter is { } init && !init.StartsWith('@')) yield return ("init_adapter", init);
    }
}
