using System.Diagnostics;
using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Cuda;
using FinQLora.Data;
using FinQLora.Distributed;
using FinQLora.Model;
using FinQLora.Monitoring;
using FinQLora.Runs;
using FinQLora.Runtime;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>
/// The training recipe, in torchtune's sense, written out. Setup (the constructor): the model (an NF4 base for QLoRA),
/// an earlier adapter stacked or merged (init_adapter), the trainable adapter, the tokenized data, the optimizer, the
/// resume point, the metric sinks. <see cref="Train"/>, for each optimizer step: forward, masked loss, scale by the
/// step's label tokens, backward (per micro-batch), average over GPUs, clip, guard against NaN/Inf, AdamW step, zero
/// grad, schedule, log, validate, checkpoint; at the end the final adapter. A resumed run continues from the newest
/// complete checkpoint and ends with the same adapter bytes as an uninterrupted one (on the CPU): the batches come from
/// one <see cref="DataCursor"/> whose (epoch, index) is saved, the dropout RNG is re-seeded from (seed, step,
/// micro-batch) (<see cref="RngSeeds"/>), and the optimizer state is restored exactly.
/// </summary>
public sealed class TrainingRecipe : IDisposable
{
    private readonly TrainConfig _cfg;
    private readonly DistributedContext _dist;
    private readonly RunSession _run;
    private readonly TrainingHooks _hooks;
    private readonly string _resumeCommand;
    private readonly Action<string> _log;
    private readonly Action<string> _debugDataParallel;
    private readonly TrainingModel _model;
    private readonly ICommunicator _comm;
    private readonly TrainableSet _trainable;
    private readonly TrainingData _data;
    private readonly StepPlan _plan;
    private readonly AdamW _optimizer;
    private readonly CheckpointContents _checkpoint;
    private readonly NonFiniteGuard _guard;
    private readonly MetricsFanOut _sinks;
    private readonly TrainingTaskMetrics? _taskMetrics;
    private readonly GpuMonitor? _gpu;
    private readonly StopSignal _stop;
    private readonly GradientAverager _averager;
    private readonly DataCursor _cursor;
    private TrainerState _state;
    private double? _lastLoss;
    private readonly Stopwatch _logClock = new();
    private long _tokensSinceLog;

    /// <summary>Setup: model, adapters, data, optimizer, resume point, sinks; everything made here is disposed on failure.</summary>
    public TrainingRecipe(TrainConfig cfg, TrainOptions opts, RunSession run, DistributedContext dist, TrainingHooks hooks, Action<string> log)
    {
        (_cfg, _dist, _run, _hooks, _log) = (cfg, dist, run, hooks, log);
        _resumeCommand = opts.ResumeCommandFor(cfg.Output);
        _debugDataParallel = Runtime.EnvironmentSettings.Current.DebugDataParallel ? log : _ => { };
        var t = cfg.Training;
        try
        {
            _model = TrainingModel.Load(cfg, dist, log);
            _comm = dist.CreateCommunicator();
            _trainable = _model.Attach(cfg, opts.InitAdapterOverride ?? cfg.InitAdapter, log);
            _data = TrainingData.Load(cfg.Data, _model.Bundle.Tokenizer, t.Seed, log);
            var shape = new BatchShape(t.BatchSize, _model.Bundle.Tokenizer.PadId, cfg.Data.Packing, cfg.Data.MaxLength);
            var firstEpoch = new DataCursor(_data.Train, shape, t.Seed);   // an epoch is the batches the cursor walks (packed rows with packing)
            _plan = StepPlan.For(t, _data.Train.Count, firstEpoch.BatchesInEpoch, firstEpoch.RowsInEpoch, cfg.Data.Packing, dist.WorldSize, opts.MaxSteps);
            if (cfg.Data.Packing)
                log($"[{cfg.Stage}] packing: {_data.Train.Count} examples in {firstEpoch.RowsInEpoch} rows of up to {cfg.Data.MaxLength} tokens; {_plan.StepsPerEpoch} steps per epoch");
            _optimizer = new AdamW(_trainable.Parameters, new AdamW.Options(t.Lr, t.Betas[0], t.Betas[1], t.Eps, t.WeightDecay));
            _checkpoint = new CheckpointContents(cfg, _model.Model, _trainable, _optimizer, _model.ModelDir, _resumeCommand, hooks);
            _state = new TrainerState { Stage = cfg.Stage, TotalSteps = _plan.Total, Seed = t.Seed };
            if (opts.Mode == RunFolder.Mode.Resume) _state = Resume();
            _guard = new NonFiniteGuard(t.NanGuardMaxConsecutive, _state.NonFiniteSkips, _state.NonFiniteInARow);
            _taskMetrics = dist.IsMain ? TrainingTaskMetrics.Create(cfg, _state.BestTaskStep, _state.BestTaskScore, log) : null;
            _sinks = dist.IsMain
                ? new MetricsFanOut([new MetricsJsonl(run.Layout.Metrics), new ProgressDisplay(cfg.Stage, _plan.Total),
                    .. (cfg.Logging.Tensorboard ? new IMetricsSink[] { new TensorBoardSink(run.Layout.TensorBoard) } : [])])
                : new MetricsFanOut();
            _gpu = dist.IsMain && _model.Device.type == TorchSharp.DeviceType.CUDA ? GpuMonitor.Start(run.Layout.Gpu) : null;
            _stop = StopSignal.Listen();
            _averager = new GradientAverager(_comm);
            _cursor = new DataCursor(_data.Train, shape, t.Seed, _state.DataEpoch, _state.DataIndex);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The loop: one optimizer step per turn, from the step after the resume point to the last.</summary>
    public TrainResult Train()
    {
        var t = _cfg.Training;
        _logClock.Start();
        for (long step = _state.Step + 1; step <= _plan.Total; step++)
        {
            var stepClock = Stopwatch.StartNew();
            // this rank's share of the step's micro-batches, drawn in order from the epoch's batches
            var micro = DataShard.Take(_cursor.Take(_plan.MicroPerStep), _dist.Rank, _dist.WorldSize).ToList();
            double localTokens = micro.Sum(b => b.LabelledTokens);
            double stepTokens = AllReduceScalar(localTokens);
            double lossSum = ForwardBackward(step, micro, stepTokens);
            _debugDataParallel($"[dp] rank {_dist.Rank} step {step}: batches {string.Join(",", micro.Select(b => b.Ids[0]))} " +
                $"local loss sum {lossSum:R} local tokens {localTokens} step tokens {stepTokens}");
            var parameters = _trainable.Parameters.Select(p => p.Param).ToList();
            _averager.Average(parameters);
            double loss = AllReduceScalar(lossSum) / Math.Max(1.0, stepTokens);
            double gradNorm = ClipGradNorm(parameters, t.MaxGradNorm);
            var verdict = _guard.Check(loss, gradNorm);
            if (verdict == NonFiniteGuard.Verdict.Step)
            {
                _optimizer.Lr = LrSchedule.At(t, step - 1, (int)_plan.Total);
                _optimizer.Step();
                _lastLoss = loss;
            }
            else _log(_guard.SkipMessage(step, loss, gradNorm));
            _optimizer.ZeroGrad();
            _state = _state with
            {
                Step = step, DataEpoch = _cursor.Epoch, DataIndex = _cursor.Index, NonFiniteSkips = _guard.Skipped,
                NonFiniteInARow = _guard.InARow, Tokens = _state.Tokens + (long)stepTokens,
            };
            LogStep(step, loss, gradNorm, stepClock);
            Validate(step);
            MeasureTasks(step);
            if (EndStep(step, verdict))
                return new TrainResult(_cfg.Output, _run.Layout.FinalOf(t.Method == TrainingMethod.Full), t.Method == TrainingMethod.Full, step, _lastLoss, Stopped: true);
        }
        return Finish();
    }

    /// <summary>
    /// Forward and backward over this rank's micro-batches; each loss is scaled so that, summed over micro-batches and
    /// averaged over ranks, the gradient is that of the mean over the step's label tokens. Returns the summed loss.
    /// </summary>
    private double ForwardBackward(long step, List<TrainBatch> micro, double stepTokens)
    {
        var t = _cfg.Training;
        var device = _model.Device;
        Tensor? lossAcc = null;   // the step's summed loss, kept on the device: read once per step, not per micro-batch
        try
        {
            for (int m = 0; m < micro.Count; m++)
            {
                using var scope = NewDisposeScope();
                var b = micro[m];
                var ids = tensor(b.InputIds, [b.Rows, b.Length]).to(device);
                var labels = tensor(b.Labels, [b.Rows, b.Length]).to(device);
                var positions = tensor(b.Positions, [b.Rows, b.Length]).to(device);
                var segments = b.Segments is null ? null : tensor(b.Segments, [b.Rows, b.Length]).to(device);
                long seed = RngSeeds.ForMicroBatch(t.Seed, step, DataShard.GlobalIndex(m, _dist.Rank, _dist.WorldSize));
                var microLoss = CausalLmLoss.Compute(_model.Model, ids, labels, positions, segments, t.GradCheckpointing, seed, t.LossChunkSize,
                    labelled: CausalLmLoss.LabelledPositions(b.Labels, b.Rows, b.Length));
                (microLoss.Sum * (_dist.WorldSize / Math.Max(1.0, stepTokens))).backward();
                AutogradHandoff.Release();
                var sum = microLoss.Sum.detach().to(ScalarType.Float64);
                var acc = lossAcc is null ? sum : lossAcc + sum;
                lossAcc?.Dispose();
                lossAcc = acc.DetachFromDisposeScope();
                _tokensSinceLog += b.InputIds.LongLength;
            }
        }
        catch (Exception e) when (OutOfMemory.IsCudaOom(e))
        {
            throw OutOfMemory.Describe(e, $"stage {_cfg.Stage}, step {step}", t.BatchSize, micro.Max(b => b.Length), t.GradAccum, t.GradCheckpointing, t.LossChunkSize);
        }
        if (lossAcc is null) return 0;
        double lossSum = lossAcc.item<double>();
        lossAcc.Dispose();
        return lossSum;
    }

    /// <summary>The step's metrics (main rank), every logging.every_steps steps and at the last.</summary>
    private void LogStep(long step, double loss, double gradNorm, Stopwatch stepClock)
    {
        if (!_dist.IsMain || (step % Math.Max(1, _cfg.Logging.EverySteps) != 0 && step != _plan.Total)) return;
        var device = _model.Device;
        double elapsed = _logClock.Elapsed.TotalSeconds;
        var mem = device.type == TorchSharp.DeviceType.CUDA ? GpuMemory.Read(device.index < 0 ? 0 : device.index) : null;
        _sinks.Train(new TrainMetrics(_cfg.Stage, step, _cursor.FractionalEpoch, loss, _optimizer.Lr, gradNorm,
            _tokensSinceLog * _dist.WorldSize / Math.Max(1e-9, elapsed), stepClock.Elapsed.TotalSeconds,
            mem is null ? null : GpuMemory.Gib(mem.HeldBytes), mem?.AllocatedBytes is { } a ? GpuMemory.Gib(a) : null,
            mem?.PeakAllocatedBytes is { } pk ? GpuMemory.Gib(pk) : null));
        if (mem is not null) GpuMemory.ResetPeak(device.index < 0 ? 0 : device.index);
        _logClock.Restart();
        _tokensSinceLog = 0;
    }

    /// <summary>The validation loss (main rank), every logging.eval_every_steps steps and at the last, when there is validation data.</summary>
    private void Validate(long step)
    {
        int every = _cfg.Logging.EvalEverySteps;
        if (every > 0 && _data.Valid.Count > 0 && (step % every == 0 || step == _plan.Total) && _dist.IsMain)
            _sinks.Val(new ValMetrics(_cfg.Stage, step, ValidationLoss.Of(_model.Model, _data.Valid, _cfg.Training, _model.Bundle.Tokenizer.PadId, _model.Device)));
    }

    /// <summary>The FLARE task metrics (main rank), every logging.eval_tasks_every_steps steps and at the last; with checkpoint.select_best a new best becomes best-adapter/.</summary>
    private void MeasureTasks(long step)
    {
        if (_taskMetrics is null || !_taskMetrics.Due(step, _plan.Total)) return;
        _taskMetrics.Measure(step, _model.Bundle, _sinks, dir => PeftAdapterFiles.Save(dir, _model.Model, TrainingModel.AdapterName, _trainable.Lora, _model.ModelDir));
        _state = _state with { BestTaskStep = _taskMetrics.BestStep, BestTaskScore = _taskMetrics.BestScore };
    }

    /// <summary>
    /// After the step: stops the run (with a checkpoint) when the guard says so, lets the hooks see the step,
    /// checkpoints every checkpoint.every_steps, at the last step and on a stop request. True when the run stops early.
    /// </summary>
    private bool EndStep(long step, NonFiniteGuard.Verdict verdict)
    {
        if (verdict == NonFiniteGuard.Verdict.Stop)
            throw _guard.StopError(step, SaveCheckpoint() ?? _cfg.Output);
        _hooks.AfterStep(step, _stop);
        int every = _cfg.Checkpoint.EverySteps;
        if ((every > 0 && step % every == 0) || step == _plan.Total || _stop.Requested) SaveCheckpoint();
        if (!_stop.Requested || step >= _plan.Total) return false;
        _log(StopSignal.ResumeHint(_resumeCommand, _cfg.Output, step));
        return true;
    }

    /// <summary>Writes a checkpoint (main rank only; null on the others).</summary>
    private string? SaveCheckpoint() =>
        _dist.IsMain ? TrainingCheckpoint.Save(_run.Store, _checkpoint, _state, _log) : null;

    /// <summary>Resume setup: the state of the newest usable checkpoint (or step 0), with metrics.jsonl cut back to it.</summary>
    private TrainerState Resume()
    {
        var state = _state;
        if (_run.FindResumePoint(_log) is { } latest)
        {
            state = TrainingCheckpoint.Restore(latest.Dir, _checkpoint);
            _log($"[{_cfg.Stage}] resumed from {latest.Dir} (step {state.Step} of {_plan.Total})");
        }
        else _log($"[{_cfg.Stage}] {_cfg.Output} has no complete checkpoint yet; starting again from step 0");
        if (_dist.IsMain) MetricsJsonl.TruncateAfter(_run.Layout.Metrics, state.Step);
        return state;
    }

    /// <summary>
    /// The end of the run (main rank): the final adapter, its init-adapter note first; for method full the trained model
    /// as a Hugging Face folder (OUTPUT/model, in the base checkpoint's dtype) instead.
    /// </summary>
    private TrainResult Finish()
    {
        bool full = _cfg.Training.Method == TrainingMethod.Full;
        var finalDir = _run.Layout.FinalOf(_cfg.Training.Method == TrainingMethod.Full);
        if (_dist.IsMain && full)
            HfModelFolder.Write(_model.Model, _model.ModelDir, finalDir, HfModelFolder.StoredDType(_model.ModelDir));
        else if (_dist.IsMain)
        {
            // the note goes before the weights, which mark the stage finished
            if (_trainable.InitBase is { } initBase) InitAdapter.WriteNote(finalDir, initBase, _cfg.Stage);
            PeftAdapterFiles.Save(finalDir, _model.Model, TrainingModel.AdapterName, _trainable.Lora, _model.ModelDir);
        }
        _log($"[{_cfg.Stage}] done: {_state.Step} steps; {(full ? "model" : "adapter")} in {finalDir}");
        return new TrainResult(_cfg.Output, finalDir, full, _state.Step, _lastLoss, Stopped: false);
    }

    /// <summary>The global L2 norm of the gradients (fp32); clips them to <paramref name="maxNorm"/> when it is above 0.</summary>
    private static double ClipGradNorm(IReadOnlyList<Parameter> ps, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = ps.Where(p => p.grad is not null).Select(p => p.grad!).ToList();
        if (grads.Count == 0) return 0;
        var norm = stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToList()).norm().item<float>();
        if (maxNorm > 0 && double.IsFinite(norm) && norm > maxNorm)
            foreach (var g in grads) g.mul_(maxNorm / (norm + 1e-6));
        return norm;
    }

    private double AllReduceScalar(double value)
    {
        if (_comm.WorldSize == 1) return value;
        using var t = tensor(new[] { (float)value }).to(_model.Device);
        _comm.AllReduceSum(t);
        return t.cpu().item<float>();
    }

    public void Dispose()
    {
        // the reverse of setup; a field is null when setup failed before it
        _stop?.Dispose();
        _gpu?.Dispose();
        _sinks?.Dispose();
        _optimizer?.Dispose();
        _comm?.Dispose();
        _model?.Dispose();
    }
}
