using System.Text.Json.Serialization;

namespace FinQLora.Monitoring;

/// <summary>
/// One training line of metrics.jsonl (every logging.every_steps optimizer steps):
/// <c>{"kind":"train","stage":"stage1","step":12,"epoch":0.5,"loss":1.23,"lr":0.0002,"grad_norm":0.8,"tokens_per_s":1234.5,"step_time_s":0.41,"gpu_mem_gib":6.1}</c>.
/// <see cref="Step"/> counts optimizer steps completed (1 after the first update); <see cref="Epoch"/> is
/// fractional; <see cref="Loss"/> is the mean per label token over the step's micro-batches;
/// <see cref="GpuMemGib"/> is the device memory the process holds (driver's view), null on the CPU;
/// <see cref="GpuAllocGib"/> (live tensors after the step) and <see cref="GpuPeakAllocGib"/> (highest during
/// the logging window) are present only under the stream-ordered allocator (<see cref="Cuda.GpuMemory"/>);
/// non-finite values are written as null.
/// </summary>
public sealed record TrainMetrics(
    string Stage, long Step, double Epoch, double Loss, double Lr, double GradNorm, double TokensPerS, double StepTimeS, double? GpuMemGib,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? GpuAllocGib = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? GpuPeakAllocGib = null)
{
    [JsonPropertyOrder(-1)] public string Kind => "train";
}

/// <summary>One validation line: <c>{"kind":"val","stage":"stage1","step":20,"val_loss":1.1}</c>.</summary>
public sealed record ValMetrics(string Stage, long Step, double ValLoss)
{
    [JsonPropertyOrder(-1)] public string Kind => "val";
}

/// <summary>
/// One line of FLARE task metrics measured during training (logging.eval_tasks_every_steps) on a fixed subset of each
/// task's rows: <c>{"kind":"tasks","stage":"stage1","step":20,"rows":{"fpb":32},"metrics":{"fpb":{"acc":0.5,"f1":0.41,…}},"select_best":"fpb.f1","score":0.41,"best":true}</c>.
/// <see cref="SelectBest"/>, <see cref="Score"/> and <see cref="Best"/> are present with checkpoint.select_best: the
/// selected value and whether this step's adapter became the best-adapter.
/// </summary>
public sealed record TaskMetrics(string Stage, long Step, IReadOnlyDictionary<string, int> Rows, IReadOnlyDictionary<string, SortedDictionary<string, double>> Metrics,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? SelectBest = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? Score = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] bool? Best = null)
{
    [JsonPropertyOrder(-1)] public string Kind => "tasks";
}

/// <summary>Receives the training and validation metrics: metrics.jsonl, TensorBoard and the progress display.</summary>
public interface IMetricsSink : IDisposable
{
    void Train(TrainMetrics m);
    void Val(ValMetrics m);
    void Tasks(TaskMetrics m);
}

/// <summary>Sends every record to several sinks.</summary>
public sealed class MetricsFanOut(params IMetricsSink[] sinks) : IMetricsSink
{
    public void Train(TrainMetrics m) { foreach (var s in sinks) s.Train(m); }
    public void Val(ValMetrics m) { foreach (var s in sinks) s.Val(m); }
    public void Tasks(TaskMetrics m) { foreach (var s in sinks) s.Tasks(m); }
    public void Dispose() { foreach (var s in sinks) s.Dispose(); }
}
