using System.Text.Json;
using System.Text.Json.Serialization;
using FinQLora.IO;

namespace FinQLora.Training;

/// <summary>
/// trainer_state.json: everything besides the adapter and the optimizer that a resumed run needs to
/// continue exactly where the interrupted one stopped. The learning-rate schedule is a function of
/// <see cref="Step"/>, and randomness is re-derived from <see cref="Seed"/> (see <see cref="RngSeeds"/>),
/// so neither needs more state than this.
/// </summary>
public sealed record TrainerState
{
    public int Version { get; init; } = 1;
    public string Stage { get; init; } = "";
    /// <summary>Optimizer steps completed.</summary>
    public long Step { get; init; }
    /// <summary>Optimizer steps of the whole run (for the schedule and the progress display).</summary>
    public long TotalSteps { get; init; }
    /// <summary>The data position: the epoch (0-based) being read …</summary>
    public int DataEpoch { get; init; }
    /// <summary>… and the index of the next micro-batch in that epoch's batch order (<see cref="DataCursor"/>).</summary>
    public long DataIndex { get; init; }
    /// <summary>training.seed: every random draw of the run derives from it.</summary>
    public long Seed { get; init; }
    /// <summary>Steps skipped for a NaN/Inf loss or gradient norm, in all and in a row at the time of saving.</summary>
    public long NonFiniteSkips { get; init; }
    public int NonFiniteInARow { get; init; }
    /// <summary>checkpoint.select_best: the step of the best adapter so far and its value (<see cref="TrainingTaskMetrics"/>).</summary>
    public long? BestTaskStep { get; init; }
    public double? BestTaskScore { get; init; }
    /// <summary>Label tokens trained on so far.</summary>
    public long Tokens { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public void Save(string path) => AtomicFile.WriteAllText(path, JsonSerializer.Serialize(this, Json));

    public static TrainerState Load(string path)
    {
        try
        {
            var s = JsonSerializer.Deserialize<TrainerState>(IO.InputFile.ReadText(path, IO.JsonFile.MaxConfigBytes), Json) ?? throw new JsonException("empty");
            if (s.Version != 1) throw new FinQLoraException($"{path}: trainer state version {s.Version} is not supported (expected 1)");
            return s;
        }
        catch (JsonException e)
        {
            throw new FinQLoraException($"{path}: unreadable trainer state: {e.Message}", inner: e);
        }
    }
}
