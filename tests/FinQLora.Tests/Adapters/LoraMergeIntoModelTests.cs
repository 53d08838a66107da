using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

public class LoraMergeIntoModelTests
{
    private static List<(string, string)> Pairs() =>
        Fixtures.Expected["scores"]!.AsArray().Select(s => (s!["prompt"]!.GetValue<string>(), s["completion"]!.GetValue<string>())).ToList();

    private static double[] Score(ModelBundle b) => Scorer.Score(b.Model, b.Tokenizer, Pairs()).Select(s => s.LogProb).ToArray();

    private static ModelBundle Load(string dir, string quantize = "none") => ModelBundle.Load(dir, new ModelLoadOptions(CPU, ScalarType.Float32, quantize));

    [Fact]
    public void Merging_into_a_loaded_dense_model_gives_PEFTs_adapter_logprobs_without_an_adapter_attached()
    {
        using var bundle = Load(Fixtures.TinyModel);
        Assert.Equal(12, LoraMerger.MergeInto(bundle.Model, Fixtures.Parity("adapter-a")));
        Assert.All(LoraInjector.Projections(bundle.Model), p => Assert.Empty(p.Layer.Adapters));
        var scores = Score(bundle);
        var expected = Fixtures.Expected["adapters"]!["adapter-a"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.InRange(scores[i] - expected[i], -1e-3, 1e-3);
    }

    [Fact]
    public void Merging_into_a_4bit_model_from_the_dense_checkpoint_equals_loading_the_merged_folder_quantized()
    {
        // what `finqlora merge --dtype float32` writes, loaded with --quantize nf4: the merged weights rounded to 4 bits once
        var merged = Path.Combine(Fixtures.TempDir(), "merged");
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], merged, ScalarType.Float32));
        using var expected = Load(merged, "nf4");

        using var bundle = Load(Fixtures.TinyModel, "nf4");
        using var weights = ModelWeights.Open(Fixtures.TinyModel);
        var r = LoraMerger.MergeInto(bundle.Model, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], new CheckpointWeights(weights));
        Assert.Equal(new MergeIntoResult(0, 21, 21), r);

        var want = LoraInjector.Projections(expected.Model).ToDictionary(p => p.Path, p => ((Nf4Linear)p.Layer.base_layer).State);
        foreach (var (path, layer) in LoraInjector.Projections(bundle.Model))
        {
            var got = ((Nf4Linear)layer.base_layer).State;
            Assert.True(got.Packed.equal(want[path].Packed).all().item<bool>(), path);
            Assert.True(got.Absmax.equal(want[path].Absmax).all().item<bool>(), path);
            Assert.Equal(want[path].Nested!.Offset, got.Nested!.Offset);
        }
        Assert.Equal(Score(expected), Score(bundle));
    }

    [FinQLora.Tests.Quantization.CudaFact]
    public void On_CUDA_in_bf16_merging_into_a_4bit_model_equals_loading_the_bf16_merged_folder_quantized()
    {
        var cuda = new Device(TorchSharp.DeviceType.CUDA, 0);
        var merged = Path.Combine(Fixtures.TempDir(), "merged");
        LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], merged, ScalarType.BFloat16, Device: cuda));
        using var expected = ModelBundle.Load(merged, new ModelLoadOptions(cuda, ScalarType.BFloat16, "nf4"));
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(cuda, ScalarType.BFloat16, "nf4"));
        using var weights = ModelWeights.Open(Fixtures.TinyModel);
        Assert.Equal(new MergeIntoResult(0, 21, 21), LoraMerger.MergeInto(bundle.Model, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], new CheckpointWeights(weights)));
        var want = LoraInjector.Projections(expected.Model).ToDictionary(p => p.Path, p => ((Nf4Linear)p.Layer.base_layer).State);
        foreach (var (path, layer) in LoraInjector.Projections(bundle.Model))
        {
            var got = ((Nf4Linear)layer.base_layer).State;
            Assert.Equal(cuda.type, got.Device.type);
            Assert.True(got.Packed.equal(want[path].Packed).all().item<bool>(), path);
        }
        Assert.Equal(Score(expected), Score(bundle));
    }

    [Fact]
    public void Requantized_layers_differ_from_the_stacked_adapter_only_by_one_4bit_rounding()
    {
        // a 4-bit base without a dense checkpoint (as a bitsandbytes folder): dequantize, add, quantize again
        using var merged = Load(Fixtures.TinyModel, "nf4");
        using var stacked = Load(Fixtures.TinyModel, "nf4");
        var r = LoraMerger.MergeInto(merged.Model, [Fixtures.Parity("adapter-a")]);
        Assert.Equal(new MergeIntoResult(0, 12, 0), r);
        PeftAdapterFiles.Load(Fixtures.Parity("adapter-a"), stacked.Model, "a");
        using var adapter = PeftAdapterWeights.Read(Fixtures.Parity("adapter-a"), stacked.Model.Config);

        var byPath = LoraInjector.Projections(stacked.Model).ToDictionary(p => p.Path, p => p.Layer);
        int changed = 0;
        foreach (var (path, layer) in LoraInjector.Projections(merged.Model))
        {
            using var scope = NewDisposeScope();
            var q = (Nf4Linear)layer.base_layer;
            var got = Nf4.Dequantize(q.State, ScalarType.Float32);                                          // [out, in]
            var baseW = Nf4.Dequantize(((Nf4Linear)byPath[path].base_layer).State, ScalarType.Float32);     // what the stacked model adds its delta to
            var delta = adapter.Delta(path, CPU);
            if (delta is null)
            {
                Assert.True(got.equal(baseW).all().item<bool>(), $"{path} has no adapter and must stay as it was");
                continue;
            }
            changed++;
            var exact = baseW + delta;                                                                       // the stacked model's effective weight
            // NF4 rounds each value to the nearest of 16 levels × the block's absmax: at most half the widest gap
            // (between -1 and -0.6962, 0.1519) × absmax, plus the 8-bit rounding of the absmax (double quantization)
            var err = (got - exact).abs().reshape(-1, 64);                                                   // [blocks, 64]
            var absmax = exact.abs().reshape(-1, 64).amax([1], keepdim: true);                               // [blocks, 1]
            var ratio = (err / absmax).max().item<float>();
            Assert.True(ratio <= 0.1519 * 1.02 + 0.01, $"{path}: error {ratio:F4} × absmax exceeds one NF4 rounding");
            Assert.True(err.max().item<float>() > 0, $"{path}: requantizing must round");
            // and the merge did happen: the result is nearer the stacked weight than the unmerged base
            Assert.True((got - exact).norm().item<float>() < (got - baseW).norm().item<float>(), $"{path}: the delta is missing");
        }
        Assert.Equal(12, changed);
    }

    [Fact]
    public void Merging_works_one_projection_at_a_time_without_keeping_dense_weights()
    {
        using var bundle = Load(Fixtures.TinyModel, "nf4");
        var seen = new List<string>();
        var live = new List<long>();
        long before = TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        LoraMerger.MergeInto(bundle.Model, [Fixtures.Parity("adapter-a"), Fixtures.Parity("adapter-b")], afterProjection: p =>
        {
            seen.Add(p);
            live.Add(TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        });
        // the projections in model order, layer by layer, each finished (its dense fp32 weight freed) before the next
        Assert.Equal(LoraInjector.Projections(bundle.Model).Select(p => p.Path), seen);
        Assert.All(live, n => Assert.Equal(live[0], n));
        Assert.Equal(before, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.All(LoraInjector.Projections(bundle.Model), p => Assert.IsType<Nf4Linear>(p.Layer.base_layer));
        // the replaced modules are registered: their buffers are the model's
        var buffers = bundle.Model.named_buffers().Select(b => b.name).ToList();
        Assert.Contains("model.layers.2.mlp.down_proj.base_layer.weight_absmax", buffers);
        Assert.Single(buffers, b => b == "model.layers.0.self_attn.q_proj.base_layer.weight");
    }

    /// <summary>adapter-a's config with a q_proj adapter for a hidden size of 32 (the tiny model has 64).</summary>
    internal static string AdapterOfOtherShape()
    {
        var dir = Path.Combine(Fixtures.TempDir(), "wrong");
        Directory.CreateDirectory(dir);
        File.Copy(Fixtures.Parity("adapter-a", PeftAdapterFiles.ConfigFile), Path.Combine(dir, PeftAdapterFiles.ConfigFile));
        using var a = zeros(4, 32);
        using var b = zeros(64, 4);
        SafeTensorsWriter.Write(Path.Combine(dir, PeftAdapterFiles.WeightsFile), new Dictionary<string, Tensor>
        {
            [PeftKeys.A("model.layers.0.self_attn.q_proj")] = a, [PeftKeys.B("model.layers.0.self_attn.q_proj")] = b,
        });
        return dir;
    }

    [Fact]
    public void An_adapter_made_for_another_shape_is_refused_naming_the_file_before_anything_changes()
    {
        var dir = AdapterOfOtherShape();
        using var bundle = Load(Fixtures.TinyModel);
        using var q = ((Linear)LoraInjector.Projections(bundle.Model).First().Layer.base_layer).weight!.clone();
        var e = Assert.Throws<FinQLoraException>(() => LoraMerger.MergeInto(bundle.Model, [Fixtures.Parity("adapter-b"), dir])).Message;
        Assert.Contains(Path.Combine(dir, PeftAdapterFiles.WeightsFile), e);
        Assert.Contains("needs lora_A [4, 64]", e);
        Assert.True(((Linear)LoraInjector.Projections(bundle.Model).First().Layer.base_layer).weight!.equal(q).all().item<bool>());
    }

    [Fact]
    public void Folders_of_one_name_get_distinct_adapter_names_and_one_folder_twice_is_refused()
    {
        var root = Fixtures.TempDir();
        string[] dirs = [Path.Combine(root, "stage1", "adapter"), Path.Combine(root, "stage2", "adapter"), Path.Combine(root, "x", "stage2", "adapter")];
        Assert.Equal(["adapter", "stage2-adapter", "stage2-adapter-2"], PeftAdapterWeights.UniqueNames(dirs));
        var e = Assert.Throws<FinQLoraException>(() => PeftAdapterWeights.UniqueNames([dirs[0], dirs[1], dirs[0] + "/"])).Message;
        Assert.Contains("two adapters are named 'adapter'", e);
        Assert.Contains("given twice", e);
    }
}
