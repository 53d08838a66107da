namespace FinQLora.Config;

/// <summary>
/// Loads, overrides, binds and validates configs. A file may start from others with
/// `include: other.yaml` (or a list; paths relative to the including file): the included trees are
/// merged first and the file's own keys win. Paths inside the config (model.path, data.dir, output,
/// init_adapter) are relative to the working directory, like every path on the command line.
/// All problems are reported at once, one per line, with exit code 2.
/// </summary>
public static class ConfigLoader
{
    public const string IncludeKey = "include";
    public const int ExitCode = 2;

    public static TrainConfig LoadTrain(string path, IEnumerable<string>? overrides = null)
    {
        var tree = ReadTree(path);
        foreach (var o in (overrides ?? []).Select(ConfigOverrides.Parse)) ConfigOverrides.Apply(tree, o);
        var errors = new List<string>();
        var config = ConfigBinder.Bind<TrainConfig>(tree, "", errors);
        if (errors.Count == 0) errors.AddRange(ConfigValidator.Validate(config, inCurriculum: false));
        Throw(path, errors);
        return config;
    }

    /// <summary>Binds without validating (for fragments such as model.yaml); unknown keys and bad values are still errors.</summary>
    public static TrainConfig LoadTrainUnvalidated(string path)
    {
        var errors = new List<string>();
        var config = ConfigBinder.Bind<TrainConfig>(ReadTree(path), "", errors);
        Throw(path, errors);
        return config;
    }

    /// <summary>
    /// Loads a curriculum. Overrides: `stages.N.KEY=V` sets KEY in stage N (0-based); `output`,
    /// `report` and `evaluation.*` set the curriculum's own keys; any other key is set in every stage.
    /// Each stage writes to OUTPUT/STAGE unless its inline entry sets `output` itself;
    /// `init_adapter: "@NAME"` is the final adapter of the earlier stage NAME.
    /// </summary>
    public static CurriculumConfig LoadCurriculum(string path, IEnumerable<string>? overrides = null)
    {
        var root = ReadTree(path);
        var all = (overrides ?? []).Select(ConfigOverrides.Parse).ToList();
        var ownKeys = ConfigBinder.Keys(typeof(CurriculumConfig)).Select(k => k.Key).ToHashSet();
        foreach (var o in all.Where(o => o.Path[0] != "stages" && ownKeys.Contains(o.Path[0]))) ConfigOverrides.Apply(root, o);
        var errors = new List<string>();
        var curriculum = ConfigBinder.Bind<CurriculumConfig>(root, "", errors, new HashSet<string> { "stages" });

        var entries = root.TryGetValue("stages", out var s) ? s : null;
        var list = entries as List<object?>;
        if (entries is not null and not List<object?>) errors.Add($"stages: expected a list of stage configs (paths or inline sections){ConfigBinder.SourceOf(entries)}");
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var stages = new List<TrainConfig>();
        var outputs = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < (list?.Count ?? 0); i++)
        {
            var entry = list![i];
            ConfigMap tree;
            bool ownOutput = false;
            if (entry is ConfigScalar { IsNull: false } p) tree = ReadTree(Path.Combine(dir, p.Value!));
            else if (entry is ConfigMap inline)
            {
                tree = ResolveIncludes(inline.Clone(), dir, $"{path}: stages[{i}]", [Path.GetFullPath(path)]);
                ownOutput = inline.ContainsKey("output");
            }
            else { errors.Add($"stages[{i}]: expected a path or an inline stage config{ConfigBinder.SourceOf(entry)}"); continue; }

            foreach (var o in all.Where(o => o.Path[0] != "stages" && !ownKeys.Contains(o.Path[0]))) ConfigOverrides.Apply(tree, o);
            foreach (var o in all.Where(o => o.Path.Count > 2 && o.Path[0] == "stages" && o.Path[1] == i.ToString()))
                ConfigOverrides.Apply(tree, o with { Path = o.Path.Skip(2).ToList() });
            var stageErrors = new List<string>();
            var stage = ConfigBinder.Bind<TrainConfig>(tree, "", stageErrors);
            if (all.Any(o => o.Path[0] == "stages" && o.Path.Count > 2 && o.Path[1] == i.ToString() && o.Path[2] == "output")) ownOutput = true;
            if (!ownOutput) stage = stage with { Output = Path.Combine(curriculum.Output, stage.Stage) };
            if (stage.InitAdapter is { } init && init.StartsWith('@'))
            {
                if (outputs.TryGetValue(init[1..], out var earlier)) stage = stage with { InitAdapter = Runs.RunLayout.FinalAdapterDirOf(earlier) };
                else stageErrors.Add($"init_adapter: '{init}' names no earlier stage; earlier stages: {(outputs.Count == 0 ? "none" : string.Join(", ", outputs.Keys.Select(k => "@" + k)))}");
            }
            if (stageErrors.Count == 0) stageErrors.AddRange(ConfigValidator.Validate(stage, inCurriculum: true));
            errors.AddRange(stageErrors.Select(e => $"stages[{i}] ({stage.Stage}): {e}"));
            if (!outputs.TryAdd(stage.Stage, stage.Output)) errors.Add($"stages[{i}]: the stage name '{stage.Stage}' is used twice: give each stage its own 'stage:' name");
            stages.Add(stage);
        }
        foreach (var o in all.Where(o => o.Path[0] == "stages" && (o.Path.Count < 3 || !int.TryParse(o.Path[1], out var n) || n < 0 || n >= stages.Count)))
            errors.Add($"--set {o.Key}: expected stages.N.key with N from 0 to {stages.Count - 1}");
        curriculum = curriculum with { Stages = stages };
        if (errors.Count == 0) errors.AddRange(ConfigValidator.Validate(curriculum));
        Throw(path, errors);
        return curriculum;
    }

    /// <summary>Reads a YAML file with its includes merged.</summary>
    public static ConfigMap ReadTree(string path) => ReadTree(path, []);

    private static ConfigMap ReadTree(string path, List<string> chain)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FinQLoraException($"config file not found: {path}", ExitCode);
        if (chain.Contains(full)) throw new FinQLoraException($"{path}: include cycle: {string.Join(" -> ", chain.Append(full).Select(Path.GetFileName))}", ExitCode);
        // capped while reading: a huge file, a device or a pipe is refused without loading it
        var text = IO.InputFile.ReadText(full, ConfigYaml.MaxChars, tooLarge: bytes => ConfigYaml.TooLarge(Path.GetFileName(full), bytes));
        var tree = ConfigYaml.Parse(text, Path.GetFileName(full));
        return ResolveIncludes(tree, Path.GetDirectoryName(full)!, path, [.. chain, full]);
    }

    private static ConfigMap ResolveIncludes(ConfigMap tree, string dir, string where, List<string> chain)
    {
        if (!tree.Remove(IncludeKey, out var include)) return tree;
        var paths = include switch
        {
            ConfigScalar { IsNull: false } s => [s.Value!],
            List<object?> l when l.All(x => x is ConfigScalar { IsNull: false }) => l.Cast<ConfigScalar>().Select(x => x.Value!).ToList(),
            _ => throw new FinQLoraException($"{where}: include: expected a file name or a list of file names", ExitCode),
        };
        var merged = new ConfigMap();
        foreach (var p in paths) merged.MergeFrom(ReadTree(Path.Combine(dir, p), chain));
        merged.MergeFrom(tree);
        return merged;
    }

    private static void Throw(string path, List<string> errors)
    {
        if (errors.Count == 0) return;
        throw new FinQLoraException(errors.Count == 1
            ? $"{path}: {errors[0]}"
            : $"{path}: {errors.Count} problems:\n  " + string.Join("\n  ", errors), ExitCode);
    }
}
