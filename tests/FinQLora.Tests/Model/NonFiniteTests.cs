using CsCheck;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Model;

/// <summary>
/// NaN or Inf in any weight is refused where the file is read, naming file and tensor (load, merge, quantize
/// alike); finite weights whose activations overflow give NaN/Inf logits, which stop score and generate
/// instead of producing garbage with exit code 0.
/// </summary>
public sealed class NonFiniteTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();
    private int _n;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Variant(Action<Dictionary<string, Tensor>> edit)
    {
        var dir = Path.Combine(_dir, $"m{Interlocked.Increment(ref _n)}");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        using var scope = NewDisposeScope();
        Dictionary<string, Tensor> all;
        using (var w = ModelWeights.Open(Fixtures.TinyModel)) all = w.Names.ToDictionary(n => n, n => w.Load(n));
        edit(all);
        SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), all, new Dictionary<string, string> { ["format"] = "pt" });
        return dir;
    }

    [Fact]
    public void A_nan_or_inf_anywhere_in_the_weights_is_refused_naming_file_and_tensor()
    {
        string[] names;
        using (var w = ModelWeights.Open(Fixtures.TinyModel)) names = w.Names.Order().ToArray();
        double[] bad = [double.NaN, double.PositiveInfinity, double.NegativeInfinity];
        Gen.Select(Gen.Int[0, names.Length - 1], Gen.Int[0, 1_000_000], Gen.Int[0, 2], Gen.Bool).Sample((t, at, b, bf16) =>
        {
            var name = names[t];
            var dir = Variant(all =>
            {
                var flat = all[name].reshape(-1);
                flat[at % flat.shape[0]] = tensor(bad[b]);
                if (bf16) all[name] = all[name].to(ScalarType.BFloat16);
            });
            var file = Path.Combine(dir, "model.safetensors");
            foreach (var act in new Action[]
            {
                () => LlamaBuilder.Load(dir, new ModelLoadOptions(CPU, ScalarType.Float32)).Dispose(),
                () => LoraMerger.Merge(new MergeOptions(dir, [Fixtures.Parity("adapter-a")], Path.Combine(_dir, $"g{_n}"), ScalarType.Float32)),
                () => LoraMerger.Merge(new MergeOptions(dir, [], Path.Combine(_dir, $"q{_n}"), ScalarType.Float32, RequantizeNf4: true)),
            })
            {
                var e = Assert.Throws<FinQLoraException>(act);
                Assert.Contains(file, e.Message);
                Assert.Contains($"'{name}'", e.Message);
            }
        }, iter: 10, threads: 1);
    }

    [Fact]
    public void Finite_weights_whose_logits_overflow_stop_score_and_generate()
    {
        // lm_head rows of 3e38 are finite in float32, but their dot product with any hidden state is not
        var dir = Variant(all => all["lm_head.weight"] = full(all["lm_head.weight"].shape, 3e38f));
        using var model = LlamaBuilder.Load(dir, new ModelLoadOptions(CPU, ScalarType.Float32));
        Assert.Contains("NaN or Inf logits", Assert.Throws<FinQLoraException>(() => Scorer.ScoreIds(model, [([1, 2, 3], [4, 5])], padId: 0)).Message);
        Assert.Contains("NaN or Inf logits", Assert.Throws<FinQLoraException>(() => TextGenerator.Generate(model, [[1, 2, 3]], new HashSet<int>(), 0, new GenerationOptions(MaxNewTokens: 3))).Message);
    }
}
