using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Evaluation;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Runs;
using FinQLora.Tasks;
using FinQLora.Training;

namespace FinQLora.Curriculum;

/// <summary>What a curriculum run left: its folder, and whether every stage (and the evaluation) finished or a stop request ended it early.</summary>
public sealed record CurriculumResult(string Output, bool Finished);

/// <summary>
/// Runs a curriculum: each stage in order (stage 2 stacks stage 1's adapter, frozen, under its own,
/// or merges it into the base weights: init_adapter_mode), then the evaluation of the final model
/// (built as the last stage trained: base, merged adapter if any, stacked adapters; with evaluation.adapter: best the
/// last stage's best-adapter in place of its final one; a fully fine-tuned last stage is its model folder) on the test rows;
/// the caller then draws the report. With resume, finished stages (those with a final adapter, or for training.method full a model folder)
/// are skipped and the unfinished
/// one continues from its newest checkpoint.
/// </summary>
public static class CurriculumRunner
{
    /// <summary>Runs the stages, then the evaluation; the caller draws the report of a finished curriculum (config key report).</summary>
    public static CurriculumResult Run(CurriculumConfig cfg, bool resume, bool overwrite, string command, Action<string>? log = null)
    {
        log ??= Console.Error.WriteLine;
        RunFolder.Prepare(cfg.Output, resume ? RunFolder.Mode.Resume : overwrite ? RunFolder.Mode.Overwrite : RunFolder.Mode.New, command);
        if (cfg.Stages.Count == 0) throw new FinQLoraException("the curriculum has no stages");
        foreach (var stage in cfg.Stages)
        {
            var layout = new RunLayout(stage.Output);
            if (resume && layout.Finished(stage.Training.Method == TrainingMethod.Full))
            {
                log($"[{stage.Stage}] already finished ({layout.FinalOf(stage.Training.Method == TrainingMethod.Full)}); skipping");
                continue;
            }
            // a stage that ran before resumes (it reports its damaged and half-written checkpoints itself, and refuses to start
            // over checkpoints none of which can be used); one that never started begins afresh
            var mode = resume && RunFolder.IsRun(stage.Output) ? RunFolder.Mode.Resume : RunFolder.Mode.Overwrite;
            var result = Trainer.Run(stage, new TrainOptions(mode, null, command, ResumeCommand: command + " --resume"), log);
            if (result.Stopped) return new CurriculumResult(cfg.Output, Finished: false);
        }
        if (cfg.Evaluation.Enabled) Evaluate(cfg, resume, log);
        return new CurriculumResult(cfg.Output, Finished: true);
    }

    /// <summary>
    /// The adapters of the final model, base first: each stage's own adapter (stacked), following
    /// init_adapter links back; a stage with init_adapter_mode: merge ends the chain with its init adapter
    /// marked Merge (folded into the base weights, as that stage trained); one with continue ends it with its own adapter.
    /// </summary>
    public static List<(string Name, string Dir, InitAdapterMode Mode)> AdapterChain(CurriculumConfig cfg)
    {
        var chain = new List<(string, string, InitAdapterMode)>();
        var byAdapter = cfg.Stages.ToDictionary(s => Path.GetFullPath(new RunLayout(s.Output).FinalAdapter), s => s);
        var stage = cfg.Stages[^1];
        while (true)
        {
            chain.Insert(0, (stage.Stage, new RunLayout(stage.Output).FinalAdapter, InitAdapterMode.Stack));
            // continue: the stage trained its init adapter itself, so its own adapter already holds the earlier training
            if (stage.InitAdapter is null || stage.InitAdapterMode == InitAdapterMode.Continue) break;
            if (stage.InitAdapterMode == InitAdapterMode.Merge) { chain.Insert(0, ("init", stage.InitAdapter, InitAdapterMode.Merge)); break; }
            var init = Path.GetFullPath(stage.InitAdapter);
            if (!byAdapter.TryGetValue(init, out var previous)) { chain.Insert(0, ("init", stage.InitAdapter, InitAdapterMode.Stack)); break; }
            stage = previous;
        }
        return chain;
    }

    /// <summary>
    /// Evaluates the final model into OUTPUT/eval, with a progress line per batch. With resume, a finished evaluation
    /// (same settings, metrics written) is not run again and an interrupted one continues with its missing rows;
    /// eval/ belongs to the curriculum's run folder, so one with other settings (or none) starts again.
    /// </summary>
    private static void Evaluate(CurriculumConfig cfg, bool resume, Action<string> log)
    {
        var last = cfg.Stages[^1];
        var tasks = (cfg.Evaluation.Tasks.Count > 0 ? cfg.Evaluation.Tasks : cfg.Stages.SelectMany(s => s.Data.Tasks).Distinct()).Select(FlareTasks.Get).ToList();
        string quantize = last.Training.Method == TrainingMethod.Qlora || last.Model.Quantize == Quantize.Nf4 ? "nf4" : "none";
        var settings = new EvaluationSettings(tasks, cfg.Evaluation.DataDir, cfg.Evaluation.Limit, MaxNewTokens: 64, SystemPrompt: last.Data.SystemPrompt,
            MaxLength: Math.Max(last.Data.MaxLength, 512), SkipMissing: cfg.Evaluation.Tasks.Count == 0);
        // a fully fine-tuned last stage is its model folder (earlier adapters were merged into its weights); otherwise the base and the adapter chain
        bool full = last.Training.Method == TrainingMethod.Full;
        var chain = full ? [] : AdapterChain(cfg);
        if (!full && cfg.Evaluation.Adapter == EvaluatedAdapter.Best)
        {
            // the last stage's best adapter in place of its final one; the stages under it stay as that stage trained on them
            var best = TrainingTaskMetrics.BestAdapterOf(last.Output);
            if (!File.Exists(Path.Combine(best, PeftAdapterFiles.WeightsFile)))
                throw new FinQLoraException($"evaluation.adapter is best but {best} holds no adapter: stage '{last.Stage}' never measured its task metrics (logging.eval_tasks_every_steps) with a usable value; set evaluation.adapter: last");
            chain[^1] = (chain[^1].Name, best, chain[^1].Mode);
            log($"evaluation: the best adapter of stage '{last.Stage}' ({best})");
        }
        var manifest = EvaluationManifest.For(settings, new Dictionary<string, string>
        {
            ["path"] = full ? Path.GetFullPath(new RunLayout(last.Output).FinalModel)
                : last.Model.Path == TinyModel.Name ? last.Model.Path : Path.GetFullPath(last.Model.Path),
            ["adapters"] = string.Join(",", chain.Select(a => $"{Path.GetFullPath(a.Dir)} ({a.Mode.ToString().ToLowerInvariant()})")),
            ["quantize"] = quantize, ["device"] = last.Model.Device, ["dtype"] = last.Model.Dtype,
        });
        var outDir = Path.Combine(cfg.Output, "eval");
        var state = EvaluationFolder.StateOf(outDir, manifest, out var differences);
        if (resume && state == EvaluationFolder.State.Finished)
        {
            log($"evaluation: already finished ({Path.Combine(outDir, EvaluationFolder.Metrics)}); not run again");
            return;
        }
        if (resume && state == EvaluationFolder.State.Other) log($"evaluation: {outDir} holds an evaluation with other settings ({string.Join("; ", differences)}); starting it again");
        var modelDir = full ? new RunLayout(last.Output).FinalModel : TinyModel.Resolve(last.Model.Path, log);
        using var bundle = ModelBundle.Load(modelDir, new ModelLoadOptions(DeviceSpec.Parse(last.Model.Device), DeviceSpec.ParseDType(last.Model.Dtype), quantize));
        foreach (var (name, dir, mode) in chain) InitAdapter.Apply(bundle.Model, dir, mode, modelDir, name, log);
        bundle.Model.eval();
        List<Prediction> predictions;
        using (var store = EvaluationFolder.Begin(outDir, manifest, resume: resume && state == EvaluationFolder.State.Unfinished, log))
            predictions = Evaluator.Run(bundle, settings, store, log, p => log(p.Line()));
        var (metrics, counts) = EvaluationFolder.Write(outDir, predictions);
        log(MetricsReport.Markdown(metrics, counts));
    }
}
