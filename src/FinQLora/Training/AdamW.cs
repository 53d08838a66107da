using FinQLora.IO;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Training;

/// <summary>
/// AdamW over named parameters with float32 states, written out so its state can be saved and
/// restored exactly by parameter name (TorchSharp's optim.AdamW serialises its state by parameter
/// order only, and its optim.AdamW(...) factory defaults beta2 to 0.99, not torch's 0.999).
/// The update is torch.optim.AdamW's (single-tensor path), in the same order of operations:
/// <code>
/// θ ← θ·(1 − lr·λ)                       decoupled weight decay
/// m ← lerp(m, g, 1 − β1)                 v ← β2·v + (1 − β2)·g²
/// θ ← θ − lr/(1 − β1^t) · m / (√v / √(1 − β2^t) + ε)
/// </code>
/// Parameters stored in bfloat16/float16 get a float32 master copy that the update works on and that
/// is copied back after each step (and saved with the state), so small updates are not lost to rounding.
/// </summary>
public sealed class AdamW : IDisposable
{
    public sealed record Options(double Lr = 1e-3, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8, double WeightDecay = 0);

    private sealed class State : IDisposable
    {
        public long Step;
        public required Tensor ExpAvg;
        public required Tensor ExpAvgSq;
        public Tensor? Master;
        public void Dispose() { ExpAvg.Dispose(); ExpAvgSq.Dispose(); Master?.Dispose(); }
    }

    private readonly IReadOnlyList<(string Name, Parameter Param)> _params;
    private readonly Dictionary<string, State> _state = new(StringComparer.Ordinal);

    public Options Settings { get; }
    /// <summary>The learning rate of the next step (set from the schedule before each step).</summary>
    public double Lr { get; set; }

    public AdamW(IEnumerable<(string Name, Parameter Param)> parameters, Options options)
    {
        _params = parameters.ToList();
        var dup = _params.GroupBy(p => p.Name).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"parameter name '{dup.Key}' appears twice");
        Settings = options;
        Lr = options.Lr;
    }

    public IReadOnlyList<(string Name, Parameter Param)> Parameters => _params;

    /// <summary>The number of updates parameter <paramref name="name"/> has received (0 before its first gradient).</summary>
    public long StepOf(string name) => _state.TryGetValue(name, out var s) ? s.Step : 0;

    /// <summary>One update of every parameter that has a gradient; parameters without one are left alone (as torch does).</summary>
    public void Step()
    {
        using var noGrad = no_grad();
        var (b1, b2, eps, wd) = (Settings.Beta1, Settings.Beta2, Settings.Eps, Settings.WeightDecay);
        foreach (var (name, p) in _params)
        {
            // the scope first: every `.grad` read makes a new managed wrapper, which the scope disposes
            using var scope = NewDisposeScope();
            if (p.grad is not { } g) continue;
            var st = StateFor(name, p);
            st.Step += 1;
            var theta = st.Master ?? p;
            var grad = g.dtype == ScalarType.Float32 ? g : g.to(ScalarType.Float32);
            theta.mul_(1 - Lr * wd);
            st.ExpAvg.lerp_(grad, 1 - b1);
            st.ExpAvgSq.mul_(b2).addcmul_(grad, grad, value: 1 - b2);
            double bc1 = 1 - Math.Pow(b1, st.Step);
            double bc2Sqrt = Math.Sqrt(1 - Math.Pow(b2, st.Step));
            var denom = (st.ExpAvgSq.sqrt() / bc2Sqrt).add_(eps);
            theta.addcdiv_(st.ExpAvg, denom, value: -(Lr / bc1));
            if (st.Master is not null) p.copy_(st.Master);
        }
    }

    public void ZeroGrad()
    {
        using var scope = NewDisposeScope();
        foreach (var (_, p) in _params) p.grad = null;
    }

    private State StateFor(string name, Parameter p)
    {
        if (_state.TryGetValue(name, out var st)) return st;
        st = new State
        {
            ExpAvg = zeros(p.shape, ScalarType.Float32, p.device).DetachFromDisposeScope(),
            ExpAvgSq = zeros(p.shape, ScalarType.Float32, p.device).DetachFromDisposeScope(),
            Master = p.dtype == ScalarType.Float32 ? null : p.detach().to(ScalarType.Float32).DetachFromDisposeScope(),
        };
        _state[name] = st;
        return st;
    }

    /// <summary>
    /// Saves the state as safetensors: NAME.exp_avg, NAME.exp_avg_sq (and NAME.master) in float32,
    /// with the per-parameter step counts and the hyperparameters in the metadata.
    /// </summary>
    public void Save(string path)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var meta = new Dictionary<string, string>
        {
            ["format"] = "finqlora-adamw-v1",
            ["hyperparameters"] = System.Text.Json.JsonSerializer.Serialize(Settings),
        };
        foreach (var (name, st) in _state)
        {
            tensors[name + ".exp_avg"] = st.ExpAvg;
            tensors[name + ".exp_avg_sq"] = st.ExpAvgSq;
            if (st.Master is not null) tensors[name + ".master"] = st.Master;
            meta["step." + name] = st.Step.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        SafeTensorsWriter.Write(path, tensors, meta);
    }

    /// <summary>Restores a state written by <see cref="Save"/>; every saved name must be a parameter of this optimizer, with the same shape.</summary>
    public void Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Metadata.TryGetValue("format", out var format) || format != "finqlora-adamw-v1")
            throw new FinQLoraException($"{path}: not a FinQLora optimizer state (format '{format}')");
        var byName = _params.ToDictionary(p => p.Name, p => p.Param, StringComparer.Ordinal);
        foreach (var s in _state.Values) s.Dispose();
        _state.Clear();
        foreach (var (key, value) in file.Metadata.Where(kv => kv.Key.StartsWith("step.", StringComparison.Ordinal)))
        {
            var name = key[5..];
            if (!byName.TryGetValue(name, out var p))
                throw new FinQLoraException($"{path}: optimizer state for '{name}', which is not a trainable parameter of this run (was the LoRA config changed?)");
            Tensor Read(string suffix)
            {
                var t = file.Load(name + suffix, p.device, ScalarType.Float32);
                if (!t.shape.SequenceEqual(p.shape))
                    throw new FinQLoraException($"{path}: {name}{suffix} has shape [{string.Join(", ", t.shape)}], the parameter [{string.Join(", ", p.shape)}]");
                return t.DetachFromDisposeScope();
            }
            _state[name] = new State
            {
                Step = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture),
                ExpAvg = Read(".exp_avg"),
                ExpAvgSq = Read(".exp_avg_sq"),
                Master = file.Contains(name + ".master") ? Read(".master") : null,
            };
        }
    }

    public void Dispose()
    {
        foreach (var s in _state.Values) s.Dispose();
        _state.Clear();
    }
}
