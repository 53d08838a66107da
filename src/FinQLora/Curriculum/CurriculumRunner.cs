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
/// (built as the last stage trained: base, merged adapter if any, stacked adapters) on the test rows; the caller then
/// draws the report. With resume, finished stages (those with a final adapter) are skipped and the unfinished
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
            if (resume && File.Exists(Path.Combine(layout.FinalAdapter, PeftAdapterFiles.WeightsFile)))
            {
                log($"[{stage.Stage}] already finished ({layout.FinalAdapter}); skipping");
                continue;
            }
            // a stage that ran before resumes (it reports its damaged and half-written checkpoints itself, and refuses to start
            // over checkpoints none of which can be used); one that never started begins afresh
            var mode = resume && RunFolder.IsRun(stage.Output) ? RunFolder.Mode.Resume : RunFolder.Mode.Overwrite;
            var result = Trainer.Run(stage, new TrainOptions(mode, null, command, ResumeCommand: command + " --resume"), log);
            if (result.Stopped) return new CurriculumResult(cfg.Output, Finished: false);
        }
        if (cfg.Evaluation.Enabled) Evaluate(cfg, log);
        return new CurriculumResult(cfg.Output, Finished: true);
    }

    /// <summary>
    /// The adapters of the final model, base first: each stage's own adapter (stacked), following
    /// init_adapter links back; a stage with init_adapter_mode: merge ends the chain with its init adapter
    /// marked Merge (folded into the base weights, as that stage trained).
    /// </summary>
    public static List<(string Name, string Dir, InitAdapterMode Mode)> AdapterChain(CurriculumConfig cfg)
    {
        var chain = new List<(string, string, InitAdapterMode)>();
        var byAdapter = cfg.Stages.ToDictionary(s => Path.GetFullPath(new RunLayout(s.Output).FinalAdapter), s => s);
        var stage = cfg.Stages[^1];
        while (true)
        {
            chain.Insert(0, (stage.Stage, new RunLayout(stage.Output).FinalAdapter, InitAdapterMode.Stack));
            if (stage.InitAdapter is null) break;
            if (stage.InitAdapterMode == InitAdapterMode.Merge) { chain.Insert(0, ("init", stage.InitAdapter, InitAdapterMode.Merge)); break; }
            var init = Path.GetFullPath(stage.InitAdapter);
            if (!byAdapter.TryGetValue(init, out var previous)) { chain.Insert(0, ("init", stage.InitAdapter, InitAdapterMode.Stack)); break; }
            stage = previous;
        }
        return chain;
    }

    private static void Evaluate(CurriculumConfig cfg, Action<string> log)
    {
        var last = cfg.Stages[^1];
        var tasks = (cfg.Evaluation.Tasks.Count > 0 ? cfg.Evaluation.Tasks : cfg.Stages.SelectMany(s => s.Data.Tasks).Distinct()).Select(FlareTasks.Get).ToList();
        string quantize = last.Training.Method == TrainingMethod.Qlora || last.Model.Quantize == Quantize.Nf4 ? "nf4" : "none";
        var modelDir = TinyModel.Resolve(last.Model.Path, log);
        using var bundle = ModelBundle.Load(modelDir, new ModelLoadOptions(DeviceSpec.Parse(last.Model.Device), DeviceSpec.ParseDType(last.Model.Dtype), quantize));
        foreach (var (name, dir, mode) in AdapterChain(cfg)) InitAdapter.Apply(bundle.Model, dir, mode, modelDir, name, log);
        bundle.Model.eval();
        var settings = new EvaluationSettings(tasks, cfg.Evaluation.DataDir, cfg.Evaluation.Limit, MaxNewTokens: 64, SystemPrompt: last.Data.SystemPrompt,
            MaxLength: Math.Max(last.Data.MaxLength, 512), SkipMissing: cfg.Evaluation.Tasks.Count == 0);
        var predictions = Evaluator.Run(bundle, settings, log);
        // eval/ belongs to the curriculum's run folder (a resume or a re-run of the last step replaces it)
        var outDir = Path.Combine(cfg.Output, "eval");
        EvaluationFolder.Prepare(outDir, overwrite: true);
        var (metrics, counts) = EvaluationFolder.Write(outDir, predictions);
        log(MetricsReport.Markdown(metrics, counts));
    }
}
