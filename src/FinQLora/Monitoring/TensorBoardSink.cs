using TorchSharp.Modules;
using static TorchSharp.torch.utils.tensorboard;

namespace FinQLora.Monitoring;

/// <summary>
/// TensorBoard event files under OUTPUT/tensorboard/, written by TorchSharp's own SummaryWriter (a C#
/// protobuf + TFRecord writer: no Python involved). Scalars: STAGE/train/loss, …/lr, …/grad_norm,
/// …/tokens_per_s, …/gpu_mem_gib, STAGE/val/loss and STAGE/tasks/TASK/METRIC, against the optimizer step.
/// Wall times are whole Unix seconds (TorchSharp's default); the file's first record (file_version)
/// carries a wall time in .NET ticks (a TorchSharp quirk), so prefer TensorBoard's STEP axis (the default).
/// </summary>
public sealed class TensorBoardSink(string logDir) : IMetricsSink
{
    private readonly SummaryWriter _writer = SummaryWriter(logDir);

    public string LogDir => _writer.LogDir;

    public void Train(TrainMetrics m)
    {
        int step = checked((int)m.Step);
        Scalar($"{m.Stage}/train/loss", m.Loss, step);
        Scalar($"{m.Stage}/train/lr", m.Lr, step);
        Scalar($"{m.Stage}/train/grad_norm", m.GradNorm, step);
        Scalar($"{m.Stage}/train/tokens_per_s", m.TokensPerS, step);
        if (m.GpuMemGib is { } g) Scalar($"{m.Stage}/train/gpu_mem_gib", g, step);
    }

    public void Val(ValMetrics m) => Scalar($"{m.Stage}/val/loss", m.ValLoss, checked((int)m.Step));

    /// <summary>STAGE/tasks/TASK/METRIC for each measured metric, and STAGE/tasks/select_best (the selected value) when there is one.</summary>
    public void Tasks(TaskMetrics m)
    {
        int step = checked((int)m.Step);
        foreach (var (task, metrics) in m.Metrics)
            foreach (var (name, value) in metrics) Scalar($"{m.Stage}/tasks/{task}/{name}", value, step);
        if (m.Score is { } score) Scalar($"{m.Stage}/tasks/select_best", score, step);
    }

    private void Scalar(string tag, double value, int step)
    {
        if (double.IsFinite(value)) _writer.add_scalar(tag, (float)value, step);
    }

    public void Dispose() { }  // the writer opens, appends and closes the file for each event
}
