using System.Diagnostics;
using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Cuda;
using FinQLora.Data;
using FinQLora.Distributed;
using FinQLora.Inference;
using FinQLora.Model;
using FinQLora.Monitoring;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>How this invocation runs a stage: fresh, resumed, or over an earlier run; step cap from the command line.</summary>
/// <param name="StopAfter">Behave as if interrupted (checkpoint, stop) after this step: what a SIGINT does, at a chosen point (tests).</param>
/// <param name="OnStepEnd">Called after every optimizer step (tests watch live tensors with it).</param>
/// <param name="ResumeCommand">The command line that resumes this run, for messages; default: <paramref name="Command"/> --resume OUTPUT.</param>
public sealed record TrainOptions(RunFolder.Mode Mode = RunFolder.Mode.New, int? MaxSteps = null, string Command = "finqlora train", string? InitAdapterOverride = null,
    long? StopAfter = null, Action<long>? OnStepEnd = null, string? ResumeCommand = null)
{
    public string ResumeCommandFor(string output) => ResumeCommand ?? $"{Command} --resume {output}";
}

/// <summary>What a finished (or stopped) stage left behind.</summary>
/// <param name="FinalDir">the final adapter (OUTPUT/adapter), or for training.method full the model folder (OUTPUT/model)</param>
public sealed record TrainResult(string Output, string FinalDir, bool FullModel, long Steps, double? LastLoss, bool Stopped);

/// <summary>
/// The training recipe, written out: load the model (NF4 base for QLoRA), stack or merge an earlier
/// adapter if given (InitAdapter), attach the trainable adapter, read and tokenize the tasks, then for each optimizer step:
/// forward, masked loss, scale by the step's label tokens, backward (per micro-batch), average over
/// GPUs, clip, guard against NaN/Inf, AdamW step, zero grad, schedule, log, validate, checkpoint.
/// A resumed run continues from the newest complete checkpoint and ends with the same adapter bytes
/// as an uninterrupted one (on the CPU): the data order depends only on (seed, epoch), the dropout
/// RNG is re-seeded from (seed, step, micro-batch), and the optimizer state is restored exactly.
/// </summary>
public static class Trainer
{
    public const string AdapterName = "default";
    public const string InitAdapterName = "init";

    /// <summary>
    /// Readies the output folder (<see cref="RunFolder.Prepare"/>) under the run's lock: an existing run
    /// folder is locked before anything in it is touched, so a second process on it is refused.
    /// </summary>
    private static RunLock PrepareAndLock(string output, TrainOptions opts)
    {
        // a folder New refuses is left as it was; Resume and Overwrite lock the run they find first
        var held = opts.Mode != RunFolder.Mode.New && RunFolder.IsRun(output) ? RunLock.Acquire(output) : null;
        if (opts.Mode == RunFolder.Mode.Overwrite && held is not null)
        {
            held.Dispose();   // the folder is about to be moved away and deleted
            held = null;
        }
        try
        {
            RunFolder.Prepare(output, opts.Mode, opts.Command);
        }
        catch
        {
            held?.Dispose();
            throw;
        }
        return held ?? RunLock.Acquire(output);
    }

    public static TrainResult Run(TrainConfig cfg, TrainOptions opts, Action<string>? log = null)
    {
        log ??= Console.Error.WriteLine;
        if (opts.InitAdapterOverride is { } initOverride) cfg = cfg with { InitAdapter = initOverride };
        cfg = ContinueAdapter.Resolve(cfg);   // continue: the lora shape is the init adapter's (also in the saved config.yaml)
        var dist = DistributedContext.FromEnvironment();
        var layout = new RunLayout(cfg.Output);
        bool resume = opts.Mode == RunFolder.Mode.Resume;
        using var runLock = dist.IsMain ? PrepareAndLock(cfg.Output, opts) : null;
        if (resume && File.Exists(layout.Config))
        {
            // a resumed run continues the run it finds: the same config, or nothing (a silent change of lr or data would mix two runs);
            // output is where the run is now (it may have been moved, or named another way)
            var changed = ConfigDiff.Between(ConfigLoader.ReadTree(layout.Config), cfg, ignore: ["output"]);
            if (changed.Count > 0)
                throw new FinQLoraException($"{cfg.Output} was started with a different config; resuming it would mix two runs. " +
                    $"Differences (saved → now): {string.Join("; ", changed.Take(8))}{(changed.Count > 8 ? $"; and {changed.Count - 8} more" : "")}. " +
                    $"Resume with the saved config ({opts.ResumeCommandFor(cfg.Output)}), or start a new run (another output, or --overwrite).", exitCode: 2);
        }
        else if (dist.IsMain) ConfigWriter.Write(layout.Config, cfg, $"resolved config of stage '{cfg.Stage}' ({DateTime.UtcNow:u})");
        var t = cfg.Training;

        // a launched rank sees only its own GPU (CUDA_VISIBLE_DEVICES), as cuda:0
        var device = dist.WorldSize > 1
            ? new Device(TorchSharp.DeviceType.CUDA, Environment.GetEnvironmentVariable("FINQLORA_ONE_GPU_PER_PROCESS") == "1" ? 0 : dist.LocalRank)
            : DeviceSpec.Parse(cfg.Model.Device);
        var dtype = DeviceSpec.ParseDType(cfg.Model.Dtype);
        string quantize = t.Method == TrainingMethod.Qlora || cfg.Model.Quantize == Quantize.Nf4 ? "nf4" : "none";
        if (t.Method == TrainingMethod.Full && quantize == "nf4") throw new FinQLoraException("training.method full cannot train an NF4-quantized base; set model.quantize: none");
        var modelDir = TinyModel.Resolve(cfg.Model.Path, log);
        log($"[{cfg.Stage}] loading {modelDir} ({dtype}, {quantize}, {device}){(dist.WorldSize > 1 ? $", rank {dist.Rank}/{dist.WorldSize}" : "")}");
        using var bundle = ModelBundle.Load(modelDir, new ModelLoadOptions(device, dtype, quantize));
        var model = bundle.Model;
        // fp32 matmuls (LoRA's fp32 adapters) on TF32 tensor cores, as the transformers+PEFT reference runs them (docs/PERFORMANCE.md)
        if (device.type == TorchSharp.DeviceType.CUDA) backends.cuda.matmul.allow_tf32 = true;
        using var comm = dist.CreateCommunicator();

        var initAdapter = cfg.InitAdapter;
        bool continuing = cfg.InitAdapterMode == InitAdapterMode.Continue;
        var initBase = initAdapter is null || continuing ? null : InitAdapter.Apply(model, initAdapter, cfg.InitAdapterMode, modelDir, InitAdapterName, m => log($"[{cfg.Stage}] {m}"));
        var lora = new LoraSettings(cfg.Lora.R, cfg.Lora.Alpha, cfg.Lora.Dropout, cfg.Lora.Targets, cfg.Lora.Rslora, cfg.Lora.Layers, cfg.Lora.TrainableDtype).Validated(model.Config.NumHiddenLayers);
        IReadOnlyList<(string Name, Parameter Param)> trainable;
        if (t.Method == TrainingMethod.Full)
        {
            trainable = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
            foreach (var (_, p) in trainable) p.requires_grad_(true);
        }
        else if (continuing)
        {
            (lora, trainable) = ContinueAdapter.Attach(model, cfg, AdapterName);
            log($"[{cfg.Stage}] training {initAdapter} further (r {lora.R}, alpha {lora.Alpha}, {string.Join(",", lora.Targets)}{(lora.UseRslora ? ", rsLoRA" : "")})");
        }
        else
        {
            trainable = LoraInjector.Inject(model, lora, AdapterName, trainable: true, seed: t.Seed);
        }
        model.train();
        long trainableCount = trainable.Sum(p => p.Param.NumberOfElements);
        log($"[{cfg.Stage}] trainable params: {trainableCount:N0} ({t.Method})");

        var data = TrainingData.Load(cfg.Data, bundle.Tokenizer, t.Seed, log);
        // an epoch is the batches the Batcher makes (with packing: of the packed rows, whose number does not depend on the epoch)
        var epochZero = Batcher.Batches(data.Train, t.BatchSize, bundle.Tokenizer.PadId, RngSeeds.Derive(t.Seed, 0xE90C, 0), cfg.Data.Packing, cfg.Data.MaxLength);
        int microPerEpoch = epochZero.Count;
        int microPerStep = t.GradAccum * dist.WorldSize;
        int stepsPerEpoch = Math.Max(1, microPerEpoch / microPerStep);
        int rowsPerEpoch = epochZero.Sum(b => b.Rows);
        if (rowsPerEpoch < (long)t.BatchSize * microPerStep)
            throw new FinQLoraException($"the data has {data.Train.Count} examples{(cfg.Data.Packing ? $" packed into {rowsPerEpoch} rows" : "")}, fewer than one optimizer step needs ({t.BatchSize} × {t.GradAccum} × {dist.WorldSize} GPU(s)); lower training.batch_size or training.grad_accum");
        if (cfg.Data.Packing) log($"[{cfg.Stage}] packing: {data.Train.Count} examples in {rowsPerEpoch} rows of up to {cfg.Data.MaxLength} tokens; {stepsPerEpoch} steps per epoch");
        long total = opts.MaxSteps ?? t.MaxSteps ?? (long)t.Epochs * stepsPerEpoch;
        int warmup = t.ResolveWarmupSteps((int)total);

        using var optimizer = new AdamW(trainable, new AdamW.Options(t.Lr, t.Betas[0], t.Betas[1], t.Eps, t.WeightDecay));
        var store = new CheckpointStore(layout.Checkpoints, cfg.Checkpoint.KeepLast);
        var state = new TrainerState { Stage = cfg.Stage, TotalSteps = total, Seed = t.Seed };
        if (resume)
        {
            // killed before its first checkpoint, a run has nothing to keep: it starts again, as it started the first time
            var latest = store.FindLatest(log);
            int unusable = latest is null ? store.List().Count : 0;
            if (unusable > 0)
                // hours of training may sit in them: never start again over them without being told to
                throw new FinQLoraException($"{cfg.Output}: none of its {unusable} checkpoint(s) can be used (each is reported above); " +
                    "nothing was changed. Restore a good copy into checkpoints/, or start the run again from step 0 with --overwrite.");
            if (latest is not null)
            {
                state = TrainerState.Load(Path.Combine(latest.Dir, RunLayout.TrainerStateFile));
                LoadTrainable(Path.Combine(latest.Dir, RunLayout.TrainableFile), trainable);
                optimizer.Load(RunLayout.OptimizerFileIn(latest.Dir));
                log($"[{cfg.Stage}] resumed from {latest.Dir} (step {state.Step} of {total})");
            }
            else log($"[{cfg.Stage}] {cfg.Output} has no complete checkpoint yet; starting again from step 0");
            if (dist.IsMain) MetricsJsonl.TruncateAfter(layout.Metrics, state.Step);
        }
        var guard = new NonFiniteGuard(t.NanGuardMaxConsecutive, state.NonFiniteSkips, state.NonFiniteInARow);
        using var sinks = dist.IsMain
            ? new MetricsFanOut([new MetricsJsonl(layout.Metrics), new ProgressDisplay(cfg.Stage, total), .. (cfg.Logging.Tensorboard ? new IMetricsSink[] { new TensorBoardSink(layout.TensorBoard) } : [])])
            : new MetricsFanOut();
        using var gpu = dist.IsMain && device.type == TorchSharp.DeviceType.CUDA ? GpuMonitor.Start(layout.Gpu) : null;
        using var stop = StopSignal.Listen();
        var averager = new GradientAverager(comm);
        int epoch = state.DataEpoch;
        long index = state.DataIndex;
        var batches = Batcher.Batches(data.Train, t.BatchSize, bundle.Tokenizer.PadId, RngSeeds.Derive(t.Seed, 0xE90C, epoch), cfg.Data.Packing, cfg.Data.MaxLength);
        double? lastLoss = null;
        var clock = Stopwatch.StartNew();
        long tokensSinceLog = 0;

        for (long step = state.Step + 1; step <= total; step++)
        {
            var stepClock = Stopwatch.StartNew();
            // The step's micro-batches (this rank's share), drawn in order from the epoch's batches.
            var micro = new List<TrainBatch>();
            for (int m = 0; m < microPerStep; m++)
            {
                if (index >= batches.Count)
                {
                    epoch++;
                    index = 0;
                    batches = Batcher.Batches(data.Train, t.BatchSize, bundle.Tokenizer.PadId, RngSeeds.Derive(t.Seed, 0xE90C, epoch), cfg.Data.Packing, cfg.Data.MaxLength);
                }
                var b = batches[(int)index++];
                if (m % dist.WorldSize == dist.Rank) micro.Add(b);
            }
            double localTokens = micro.Sum(b => b.LabelledTokens);
            double stepTokens = AllReduceScalar(comm, localTokens, device);
            double lossSum = 0;
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
                    var microLoss = CausalLmLoss.Compute(model, ids, labels, positions, segments, t.GradCheckpointing, RngSeeds.ForMicroBatch(t.Seed, step, m * dist.WorldSize + dist.Rank), t.LossChunkSize,
                        labelled: CausalLmLoss.LabelledPositions(b.Labels, b.Rows, b.Length));
                    // scaled so that, summed over micro-batches and averaged over ranks, the gradient is that of the mean over the step's label tokens
                    (microLoss.Sum * (dist.WorldSize / Math.Max(1.0, stepTokens))).backward();
                    AutogradHandoff.Release();
                    var sum = microLoss.Sum.detach().to(ScalarType.Float64);
                    var acc = lossAcc is null ? sum : lossAcc + sum;
                    lossAcc?.Dispose();
                    lossAcc = acc.DetachFromDisposeScope();
                    tokensSinceLog += b.InputIds.LongLength;
                }
            }
            catch (Exception e) when (OutOfMemory.IsCudaOom(e))
            {
                throw OutOfMemory.Describe(e, $"stage {cfg.Stage}, step {step}", t.BatchSize, micro.Max(b => b.Length), t.GradAccum, t.GradCheckpointing, t.LossChunkSize);
            }
            if (lossAcc is not null)
            {
                lossSum = lossAcc.item<double>();
                lossAcc.Dispose();
            }
            if (Environment.GetEnvironmentVariable("FINQLORA_DEBUG_DP") == "1")
                Console.Error.WriteLine($"[dp] rank {dist.Rank} step {step}: batches {string.Join(",", micro.Select(b => b.Ids[0]))} local loss sum {lossSum:R} local tokens {localTokens} step tokens {stepTokens}");
            var parameters = trainable.Select(p => p.Param).ToList();
            averager.Average(parameters);
            double loss = AllReduceScalar(comm, lossSum, device) / Math.Max(1.0, stepTokens);
            double gradNorm = GradNorm(parameters, t.MaxGradNorm);
            var verdict = guard.Check(loss, gradNorm);
            if (verdict == NonFiniteGuard.Verdict.Step)
            {
                optimizer.Lr = LrSchedule.At(t, step - 1, (int)total);
                optimizer.Step();
                lastLoss = loss;
            }
            else log(guard.SkipMessage(step, loss, gradNorm));
            optimizer.ZeroGrad();
            state = state with { Step = step, DataEpoch = epoch, DataIndex = index, NonFiniteSkips = guard.Skipped, NonFiniteInARow = guard.InARow, Tokens = state.Tokens + (long)stepTokens };

            if (dist.IsMain && (step % Math.Max(1, cfg.Logging.EverySteps) == 0 || step == total))
            {
                double elapsed = clock.Elapsed.TotalSeconds;
                var mem = GpuMemoryNow(device);
                sinks.Train(new TrainMetrics(cfg.Stage, step, epoch + index / (double)Math.Max(1, batches.Count), loss, optimizer.Lr, gradNorm,
                    tokensSinceLog * dist.WorldSize / Math.Max(1e-9, elapsed), stepClock.Elapsed.TotalSeconds,
                    mem is null ? null : GpuMemory.Gib(mem.HeldBytes), mem?.AllocatedBytes is { } a ? GpuMemory.Gib(a) : null,
                    mem?.PeakAllocatedBytes is { } pk ? GpuMemory.Gib(pk) : null));
                if (mem is not null) GpuMemory.ResetPeak(device.index < 0 ? 0 : device.index);
                clock.Restart();
                tokensSinceLog = 0;
            }
            if (cfg.Logging.EvalEverySteps > 0 && data.Valid.Count > 0 && (step % cfg.Logging.EvalEverySteps == 0 || step == total) && dist.IsMain)
                sinks.Val(new ValMetrics(cfg.Stage, step, ValidationLoss(model, data.Valid, t, bundle.Tokenizer.PadId, device)));

            if (verdict == NonFiniteGuard.Verdict.Stop)
            {
                var dir = Checkpoint(store, cfg, opts, model, trainable, optimizer, state, lora, modelDir, dist, log);
                throw guard.StopError(step, dir ?? cfg.Output);
            }
            if (opts.StopAfter == step) stop.Request("StopAfter");
            bool periodic = cfg.Checkpoint.EverySteps > 0 && step % cfg.Checkpoint.EverySteps == 0;
            if (periodic || step == total || stop.Requested)
                Checkpoint(store, cfg, opts, model, trainable, optimizer, state, lora, modelDir, dist, log);
            opts.OnStepEnd?.Invoke(step);
            if (stop.Requested && step < total)
            {
                log(StopSignal.ResumeHint(opts.ResumeCommandFor(cfg.Output), cfg.Output, step));
                return new TrainResult(cfg.Output, layout.FinalOf(t.Method), t.Method == TrainingMethod.Full, step, lastLoss, Stopped: true);
            }
        }
        bool full = t.Method == TrainingMethod.Full;
        if (dist.IsMain && full)
            HfModelFolder.Write(model, modelDir, layout.FinalModel, HfModelFolder.StoredDType(modelDir));   // in the base checkpoint's dtype
        else if (dist.IsMain)
        {
            if (initBase is not null) InitAdapter.WriteNote(layout.FinalAdapter, initBase, cfg.Stage);   // before the weights, which mark the stage finished
            PeftAdapterFiles.Save(layout.FinalAdapter, model, AdapterName, lora, modelDir);
        }
        log($"[{cfg.Stage}] done: {state.Step} steps; {(full ? "model" : "adapter")} in {layout.FinalOf(t.Method)}");
        return new TrainResult(cfg.Output, layout.FinalOf(t.Method), full, state.Step, lastLoss, Stopped: false);
    }

    /// <summary>
    /// Writes a checkpoint (rank 0): the adapter in PEFT format, the exact trainable tensors, optimizer and trainer state, config.
    /// A full disk stops the run with <see cref="IO.DiskFullException"/>, whose message ends with the command that resumes it.
    /// </summary>
    private static string? Checkpoint(CheckpointStore store, TrainConfig cfg, TrainOptions opts, LlamaForCausalLM model, IReadOnlyList<(string Name, Parameter Param)> trainable,
        AdamW optimizer, TrainerState state, LoraSettings lora, string modelDir, DistributedContext dist, Action<string> log)
    {
        if (!dist.IsMain) return null;
        try
        {
            return store.Save(state.Step, dir =>
            {
                if (cfg.Training.Method != TrainingMethod.Full) PeftAdapterFiles.Save(Path.Combine(dir, RunLayout.AdapterDir), model, AdapterName, lora, modelDir);
                IO.SafeTensorsWriter.Write(Path.Combine(dir, RunLayout.TrainableFile), trainable.Select(p => KeyValuePair.Create(p.Name, (Tensor)p.Param)));
                FaultInjection.BeforeOptimizerState(state.Step, Path.Combine(dir, RunLayout.OptimizerFile));
                optimizer.Save(Path.Combine(dir, RunLayout.OptimizerFile));
                state.Save(Path.Combine(dir, RunLayout.TrainerStateFile));
                ConfigWriter.Write(Path.Combine(dir, RunLayout.ConfigFile), cfg);
            }, log);
        }
        catch (IO.DiskFullException e)
        {
            throw new IO.DiskFullException($"{e.Message} with: {opts.ResumeCommandFor(cfg.Output)}", e.Path, e.NeededBytes, e.InnerException ?? e);
        }
    }

    private static void LoadTrainable(string path, IReadOnlyList<(string Name, Parameter Param)> trainable)
    {
        using var file = IO.SafeTensorsFile.Open(path);
        using var _ = no_grad();
        foreach (var (name, p) in trainable)
        {
            if (!file.Contains(name)) throw new FinQLoraException($"{path}: checkpoint lacks '{name}' (was it made with another config?)");
            using var w = file.Load(name, p.device, p.dtype);
            if (!w.shape.SequenceEqual(p.shape)) throw new FinQLoraException($"{path}: '{name}' has shape [{string.Join(", ", w.shape)}], the model expects [{string.Join(", ", p.shape)}]");
            p.copy_(w);
        }
    }

    /// <summary>The global L2 norm of the gradients (fp32); clips them to <paramref name="maxNorm"/> when it is above 0.</summary>
    private static double GradNorm(IReadOnlyList<Parameter> ps, double maxNorm)
    {
        using var scope = NewDisposeScope();
        var grads = ps.Where(p => p.grad is not null).Select(p => p.grad!).ToList();
        if (grads.Count == 0) return 0;
        var norm = stack(grads.Select(g => g.to(ScalarType.Float32).norm()).ToList()).norm().item<float>();
        if (maxNorm > 0 && double.IsFinite(norm) && norm > maxNorm)
            foreach (var g in grads) g.mul_(maxNorm / (norm + 1e-6));
        return norm;
    }

    private static double ValidationLoss(LlamaForCausalLM model, List<TokenizedExample> valid, TrainingSection t, int padId, Device device)
    {
        model.eval();
        try
        {
            using var _ = no_grad();
            double sum = 0, tokens = 0;
            foreach (var b in Batcher.Batches(valid.Take(64).ToList(), t.BatchSize, padId, seed: 0))
            {
                using var scope = NewDisposeScope();
                var loss = CausalLmLoss.Compute(model, tensor(b.InputIds, [b.Rows, b.Length]).to(device), tensor(b.Labels, [b.Rows, b.Length]).to(device),
                    tensor(b.Positions, [b.Rows, b.Length]).to(device), null, false, 0, t.LossChunkSize);
                sum += loss.Sum.item<float>();
                tokens += loss.Tokens;
            }
            return sum / Math.Max(1, tokens);
        }
        finally { model.train(); }
    }

    private static double AllReduceScalar(ICommunicator comm, double value, Device device)
    {
        if (comm.WorldSize == 1) return value;
        using var t = tensor(new[] { (float)value }).to(device);
        comm.AllReduceSum(t);
        return t.cpu().item<float>();
    }

    private static GpuMemorySnapshot? GpuMemoryNow(Device device) =>
        device.type == TorchSharp.DeviceType.CUDA ? GpuMemory.Read(device.index < 0 ? 0 : device.index) : null;
}
