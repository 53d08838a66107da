using System.Text.Json.Nodes;
using CsCheck;
using FinQLora.Adapters;
using FinQLora.IO;
using FinQLora.Loading;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Tests.Adapters;

/// <summary>
/// adapter_config.json is obeyed exactly: options that change what the adapter computes and that FinQLora does
/// not implement are refused naming the key; when target_modules, layers_to_transform or exclude_modules name
/// fewer modules than the file has tensors for, only the named modules are changed (as PEFT wraps only those),
/// by the loader and by merge alike.
/// </summary>
public sealed class AdapterOptionsTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();
    private int _n;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Variant(Action<JsonObject> edit)
    {
        var dir = Path.Combine(_dir, $"a{Interlocked.Increment(ref _n)}");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(Fixtures.Parity("adapter-a"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var c = JsonFile.ReadObject(Path.Combine(dir, "adapter_config.json"));
        edit(c);
        File.WriteAllText(Path.Combine(dir, "adapter_config.json"), c.ToJsonString());
        return dir;
    }

    [Fact]
    public void Options_that_change_the_maths_are_refused_naming_the_key()
    {
        (string Key, JsonNode Value)[] bad =
        [
            ("alora_invocation_tokens", new JsonArray(128006, 78191)), ("use_qalora", true), ("layer_replication", new JsonArray(new JsonArray(0, 2))),
            ("trainable_token_indices", new JsonArray(5, 6)), ("target_parameters", new JsonArray("mlp.experts.down_proj")), ("fan_in_fan_out", true),
            ("lora_bias", true), ("monteclora_config", new JsonObject { ["n"] = 2 }), ("layers_pattern", "blocks"),
        ];
        Gen.Int[0, bad.Length - 1].Sample(i =>
        {
            var (key, value) = bad[i];
            var dir = Variant(c => c[key] = value.DeepClone());
            Assert.Contains(key, Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.ReadSettings(dir)).Message);
            var merge = Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [dir], Path.Combine(_dir, $"m{_n}"))));
            Assert.Contains(key, merge.Message);
        }, iter: 12, threads: 1);
    }

    [Fact]
    public void Lora_alpha_finite_as_a_double_but_not_in_the_compute_dtype_is_refused()
    {
        foreach (var alpha in new[] { 1e300, 1e39, -1e300 })
        {
            var dir = Variant(c => c["lora_alpha"] = alpha);
            var e = Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.ReadSettings(dir).Validated(3));
            Assert.Contains("alpha", e.Message);
        }
    }

    [Fact]
    public void Only_the_modules_the_config_names_are_changed_by_load_and_by_merge()
    {
        string[] targets = ["q_proj", "k_proj", "v_proj", "o_proj"];
        var gen = Gen.Select(Gen.Int[1, 15], Gen.Int[0, 7], Gen.Int[0, 15]);
        gen.Sample((targetMask, layerMask, excludeMask) =>
        {
            var named = targets.Where((_, i) => (targetMask >> i & 1) == 1).ToArray();
            var layers = Enumerable.Range(0, 3).Where(i => (layerMask >> i & 1) == 1).ToArray();
            var excluded = targets.Where((_, i) => (excludeMask >> i & 1) == 1).Take(1).Select(t => $"model.layers.1.self_attn.{t}").ToArray();
            var dir = Variant(c =>
            {
                c["target_modules"] = new JsonArray(named.Select(t => (JsonNode)t).ToArray());
                c["layers_to_transform"] = layerMask == 0 ? null : new JsonArray(layers.Select(l => (JsonNode)l).ToArray());
                c["exclude_modules"] = new JsonArray(excluded.Select(t => (JsonNode)t).ToArray());
            });
            bool Expected(string path) =>
                named.Contains(path[(path.LastIndexOf('.') + 1)..]) && (layerMask == 0 || layers.Contains(LoraInjector.LayerIndex(path))) && !excluded.Contains(path);

            using var model = LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
            if (!LoraInjector.Projections(model).Any(p => Expected(p.Path)))
            {
                // the config names no module the file has: nothing to apply, as in PEFT ("target modules not found")
                Assert.Throws<FinQLoraException>(() => PeftAdapterFiles.Load(dir, model, "a"));
                Assert.Throws<FinQLoraException>(() => LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [dir], Path.Combine(_dir, $"m{_n}"), ScalarType.Float32)));
                return;
            }
            PeftAdapterFiles.Load(dir, model, "a");
            foreach (var (path, layer) in LoraInjector.Projections(model))
                Assert.True(Expected(path) == (layer.Adapters.Count == 1), $"{path}: adapter attached = {layer.Adapters.Count == 1}, config names it = {Expected(path)}");

            var merged = Path.Combine(_dir, $"m{_n}");
            LoraMerger.Merge(new MergeOptions(Fixtures.TinyModel, [dir], merged, ScalarType.Float32));
            using var before = ModelWeights.Open(Fixtures.TinyModel);
            using var after = ModelWeights.Open(merged);
            foreach (var (path, _) in LoraInjector.Projections(model))
            {
                using var scope = NewDisposeScope();
                bool same = before.Load(path + ".weight").eq(after.Load(path + ".weight")).all().item<bool>();
                Assert.True(Expected(path) != same || !targets.Contains(path[(path.LastIndexOf('.') + 1)..]), $"{path}: merged weight changed = {!same}, config names it = {Expected(path)}");
            }
        }, iter: 8, threads: 1);
    }
}
