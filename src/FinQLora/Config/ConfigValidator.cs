using System.Globalization;
using System.Text.RegularExpressions;
using FinQLora.Model;
using FinQLora.Tasks;

namespace FinQLora.Config;

/// <summary>
/// Checks a bound config once, before anything runs. Each message names the key, the bad value and
/// the fix: "lora.r must be > 0, got 0".
/// </summary>
public static partial class ConfigValidator
{
    public static IReadOnlyList<string> Validate(TrainConfig c, bool inCurriculum)
    {
        var e = new List<string>();
        if (!StageName().IsMatch(c.Stage)) e.Add($"stage must be a name of letters, digits, '_' or '-', got '{c.Stage}'");
        if (string.IsNullOrWhiteSpace(c.Output)) e.Add("output must be a folder path, got an empty value");
        if (c.InitAdapter is { } init)
        {
            if (string.IsNullOrWhiteSpace(init)) e.Add("init_adapter must be an adapter folder or null, got an empty value");
            else if (init.StartsWith('@') && !inCurriculum) e.Add($"init_adapter '{init}' names a curriculum stage, which only works in a curriculum config: give the adapter folder instead (for example --init-adapter runs/stage1/adapter)");
            if (c.Training.Method == TrainingMethod.Full && c.InitAdapterMode == InitAdapterMode.Stack)
                e.Add("init_adapter_mode is stack but training.method is full: full fine-tuning has no adapter to stack on; set init_adapter_mode: merge");
            if (c.Training.Method == TrainingMethod.Full && c.InitAdapterMode == InitAdapterMode.Continue)
                e.Add("init_adapter_mode is continue but training.method is full: full fine-tuning trains no adapter; set init_adapter_mode: merge (or training.method: qlora or lora)");
        }
        else if (c.InitAdapterMode == InitAdapterMode.Continue)
            e.Add("init_adapter_mode is continue but no init_adapter is given: set init_adapter to the PEFT adapter folder to train further (--init-adapter DIR)");

        var m = c.Model;
        if (string.IsNullOrWhiteSpace(m.Path)) e.Add("model.path must be a model folder or 'tiny', got an empty value");
        if (m.Dtype is not ("float32" or "bfloat16")) e.Add($"model.dtype must be float32 or bfloat16, got '{m.Dtype}'");
        if (!DeviceName().IsMatch(m.Device)) e.Add($"model.device must be cpu, cuda or cuda:N, got '{m.Device}'");
        switch (c.Training.Method, m.Quantize)
        {
            case (TrainingMethod.Qlora, Quantize.None):
                e.Add("training.method is qlora but model.quantize is none: set model.quantize: nf4 (or training.method: lora)"); break;
            case (TrainingMethod.Lora, Quantize.Nf4):
                e.Add("training.method is lora but model.quantize is nf4: set training.method: qlora (or model.quantize: none)"); break;
            case (TrainingMethod.Full, Quantize.Nf4):
                e.Add("training.method full cannot train NF4-quantized weights: set model.quantize: none (or training.method: qlora)"); break;
        }

        var l = c.Lora;
        if (c.Training.Method != TrainingMethod.Full)
        {
            if (l.R <= 0) e.Add($"lora.r must be > 0, got {l.R}");
            if (!(l.Alpha > 0)) e.Add($"lora.alpha must be > 0, got {N(l.Alpha)}");
            else if (l.R > 0 && !float.IsFinite((float)l.ToSettings().Scaling))
                e.Add($"lora.alpha {N(l.Alpha)} makes the scaling infinite in float32/bfloat16 (largest {float.MaxValue:G3}); use a realistic value (typically r or 2r)");
            if (l.Dropout is < 0 or >= 1) e.Add($"lora.dropout must be in [0, 1), got {N(l.Dropout)}");
            if (l.Targets.Count == 0) e.Add($"lora.targets must name at least one projection ({string.Join(", ", LlamaProjections.Names)}) or be all-linear");
            foreach (var t in l.Targets.Where(t => t != "all-linear" && !LlamaProjections.Names.Contains(t)))
                e.Add($"lora.targets: unknown projection '{t}'{DidYouMean.Suggest(t, [.. LlamaProjections.Names, "all-linear"])}");
            if (l.Targets.Distinct().Count() != l.Targets.Count) e.Add("lora.targets lists a projection twice");
            if (l.Layers is { } layers)
            {
                if (layers.Count == 0) e.Add("lora.layers is an empty list: give layer indices, or null for every layer");
                foreach (var i in layers.Where(i => i < 0)) e.Add($"lora.layers: layer indices must be >= 0, got {i}");
                if (layers.Distinct().Count() != layers.Count) e.Add("lora.layers lists a layer twice");
            }
            if (l.TrainableDtype is not ("float32" or "bfloat16")) e.Add($"lora.trainable_dtype must be float32 or bfloat16, got '{l.TrainableDtype}'");
        }

        var d = c.Data;
        if (string.IsNullOrWhiteSpace(d.Dir)) e.Add("data.dir must be the data folder, got an empty value");
        if (d.Tasks.Count == 0) e.Add($"data.tasks must list at least one task ({string.Join(", ", FlareTasks.All.Select(t => t.Name))})");
        foreach (var t in d.Tasks.Where(t => !FlareTasks.All.Any(k => k.Name == t)))
            e.Add($"data.tasks: unknown task '{t}'{DidYouMean.Suggest(t, FlareTasks.All.Select(k => k.Name))}");
        if (d.Tasks.Distinct().Count() != d.Tasks.Count) e.Add("data.tasks lists a task twice");
        if (d.MaxLength < 16) e.Add($"data.max_length must be >= 16, got {d.MaxLength}");
        if (!(d.Temperature > 0)) e.Add($"data.temperature must be > 0, got {N(d.Temperature)}");

        var t2 = c.Training;
        if (t2.Epochs <= 0) e.Add($"training.epochs must be > 0, got {t2.Epochs}");
        if (t2.MaxSteps is <= 0) e.Add($"training.max_steps must be > 0 (or null to run training.epochs), got {t2.MaxSteps}");
        if (t2.BatchSize <= 0) e.Add($"training.batch_size must be > 0, got {t2.BatchSize}");
        if (t2.GradAccum <= 0) e.Add($"training.grad_accum must be > 0, got {t2.GradAccum}");
        if (!(t2.Lr > 0)) e.Add($"training.lr must be > 0, got {N(t2.Lr)}");
        if (t2.WeightDecay < 0) e.Add($"training.weight_decay must be >= 0, got {N(t2.WeightDecay)}");
        if (t2.Betas.Count != 2) e.Add($"training.betas must be two numbers [beta1, beta2], got {t2.Betas.Count}");
        else if (t2.Betas.Any(b => b is < 0 or >= 1)) e.Add($"training.betas must each be in [0, 1), got [{string.Join(", ", t2.Betas.Select(N))}]");
        if (!(t2.Eps > 0)) e.Add($"training.eps must be > 0, got {N(t2.Eps)}");
        if (t2.WarmupSteps is < 0) e.Add($"training.warmup_steps must be >= 0, got {t2.WarmupSteps}");
        if (t2.WarmupRatio is < 0 or >= 1) e.Add($"training.warmup_ratio must be in [0, 1), got {N(t2.WarmupRatio.Value)}");
        if (t2.WarmupSteps is not null && t2.WarmupRatio is not null) e.Add("training.warmup_steps and training.warmup_ratio are both set: keep one (set the other to null)");
        if (t2.MaxGradNorm < 0) e.Add($"training.max_grad_norm must be >= 0 (0 turns clipping off), got {N(t2.MaxGradNorm)}");
        if (t2.LossChunkSize <= 0) e.Add($"training.loss_chunk_size must be > 0, got {t2.LossChunkSize}");
        if (t2.NanGuardMaxConsecutive < 1) e.Add($"training.nan_guard_max_consecutive must be >= 1, got {t2.NanGuardMaxConsecutive}");

        if (c.Checkpoint.EverySteps < 0) e.Add($"checkpoint.every_steps must be >= 0 (0: only at the end), got {c.Checkpoint.EverySteps}");
        if (c.Checkpoint.KeepLast < 1) e.Add($"checkpoint.keep_last must be >= 1, got {c.Checkpoint.KeepLast}");
        if (c.Logging.EverySteps < 1) e.Add($"logging.every_steps must be >= 1, got {c.Logging.EverySteps}");
        if (c.Logging.EvalEverySteps < 0) e.Add($"logging.eval_every_steps must be >= 0 (0 turns validation off), got {c.Logging.EvalEverySteps}");
        var lg = c.Logging;
        if (lg.EvalTasksEverySteps < 0) e.Add($"logging.eval_tasks_every_steps must be >= 0 (0 turns task metrics off), got {lg.EvalTasksEverySteps}");
        if (lg.EvalTasksRows < 1) e.Add($"logging.eval_tasks_rows must be >= 1, got {lg.EvalTasksRows}");
        if (lg.EvalTasksSplit is not ("train" or "valid" or "test")) e.Add($"logging.eval_tasks_split must be train, valid or test, got '{lg.EvalTasksSplit}'");
        if (lg.EvalTasksMaxNewTokens < 1) e.Add($"logging.eval_tasks_max_new_tokens must be >= 1, got {lg.EvalTasksMaxNewTokens}");
        if (c.Checkpoint.SelectBest is { } best)
        {
            if (lg.EvalTasksEverySteps == 0)
                e.Add($"checkpoint.select_best is '{best}' but logging.eval_tasks_every_steps is 0: the best checkpoint is chosen by the task metrics logged during training; set logging.eval_tasks_every_steps (e.g. 100) or checkpoint.select_best: null");
            if (TaskMetricSelector.Parse(best, d.Tasks).Error is { } why) e.Add($"checkpoint.select_best: {why}");
            if (c.Training.Method == TrainingMethod.Full) e.Add("checkpoint.select_best keeps a best adapter, but training.method full trains no adapter: use training.method qlora or lora, or checkpoint.select_best: null");
        }
        return e;
    }

    public static IReadOnlyList<string> Validate(CurriculumConfig c)
    {
        var e = new List<string>();
        if (c.Stages.Count == 0) e.Add("stages must list at least one stage config");
        if (string.IsNullOrWhiteSpace(c.Output)) e.Add("output must be a folder path, got an empty value");
        foreach (var t in c.Evaluation.Tasks.Where(t => !FlareTasks.All.Any(k => k.Name == t)))
            e.Add($"evaluation.tasks: unknown task '{t}'{DidYouMean.Suggest(t, FlareTasks.All.Select(k => k.Name))}");
        if (c.Evaluation.Limit is <= 0) e.Add($"evaluation.limit must be > 0 (or null for every row), got {c.Evaluation.Limit}");
        if (string.IsNullOrWhiteSpace(c.Evaluation.DataDir)) e.Add("evaluation.data_dir must be the data folder, got an empty value");
        if (c.Evaluation.Adapter == EvaluatedAdapter.Best && c.Stages.Count > 0 && c.Stages[^1].Checkpoint.SelectBest is null)
            e.Add($"evaluation.adapter is best but the last stage ('{c.Stages[^1].Stage}') has no checkpoint.select_best, so it keeps no best adapter: set its checkpoint.select_best (e.g. mean) or evaluation.adapter: last");
        return e;
    }

    private static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    [GeneratedRegex("^[A-Za-z0-9_-]+$")] private static partial Regex StageName();
    [GeneratedRegex("^(cpu|cuda|cuda:[0-9]+)$")] private static partial Regex DeviceName();
}
