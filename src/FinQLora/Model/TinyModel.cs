using System.Text.Json;
using FinQLora.IO;
using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>
/// The quickstart's model: a tiny Llama-3-architecture checkpoint with RANDOM weights and the real
/// Llama-3 tokenizer (bundled), created deterministically at first use. It exercises the whole
/// pipeline on a CPU in minutes; its outputs are meaningless.
/// </summary>
public static class TinyModel
{
    public const string Name = "tiny";

    public static LlamaConfig Config => new(128256, 64, 192, 2, 4, 2, 16, 1e-5,
        new RopeConfig("llama3", 500000, 8, 1, 4, 8192), TieWordEmbeddings: true, 131072, 128000, [128001, 128008, 128009], "float32");

    /// <summary>Where the tiny model lives: $FINQLORA_HOME/tiny-llama3 (default ~/.cache/finqlora).</summary>
    public static string DefaultDirectory
    {
        get
        {
            var home = Runtime.EnvironmentSettings.Current.Home
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "finqlora");
            return Path.Combine(home, "tiny-llama3-random");
        }
    }

    /// <summary>Resolves a --model value: "tiny" means the tiny model (created if missing); anything else is a folder.</summary>
    public static string Resolve(string model, Action<string>? log = null) =>
        model == Name ? EnsureCreated(DefaultDirectory, log) : model;

    /// <summary>The first line of the README.txt written beside the tiny model's weights.</summary>
    private const string ReadmeHeader = "FinQLora's tiny quickstart model: Llama-3 architecture (2 layers, hidden 64) with RANDOM weights and the real";

    /// <summary>True for a folder that holds the tiny random-weight model (its README.txt says so), wherever it lives.</summary>
    public static bool IsTinyModel(string dir)
    {
        var readme = Path.Combine(dir, "README.txt");
        if (!File.Exists(readme) || new FileInfo(readme).Length > 4096) return false;
        return IO.InputFile.ReadText(readme, 4096).StartsWith(ReadmeHeader, StringComparison.Ordinal);
    }

    public static string EnsureCreated(string dir, Action<string>? log = null)
    {
        if (IsComplete(dir)) return dir;
        log?.Invoke($"creating the tiny random-weight Llama-3 model in {dir} (real Llama-3 tokenizer, RANDOM weights: outputs are meaningless)");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(dir))!);
        AtomicFile.RemoveOrphans(dir);
        var tmp = AtomicFile.TemporaryPathFor(dir);
        Directory.CreateDirectory(tmp);
        var c = Config;
        var source = new RandomWeights(c, seed: 20241128, std: 0.05);
        var names = new List<string> { "model.embed_tokens.weight", "model.norm.weight" };
        for (int i = 0; i < c.NumHiddenLayers; i++)
            names.AddRange(new[] { "input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj" }.Select(n => $"model.layers.{i}.{n}.weight"));
        using (var scope = NewDisposeScope())
        {
            var tensors = names.ToDictionary(n => n, n => source.Load(n, CPU, ScalarType.Float32));
            SafeTensorsWriter.Write(Path.Combine(tmp, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        File.WriteAllText(Path.Combine(tmp, "config.json"), JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["architectures"] = new[] { "LlamaForCausalLM" }, ["model_type"] = "llama", ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize, ["intermediate_size"] = c.IntermediateSize, ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads, ["num_key_value_heads"] = c.NumKeyValueHeads, ["head_dim"] = c.HeadDim,
            ["rms_norm_eps"] = c.RmsNormEps, ["rope_theta"] = c.Rope.Theta,
            ["rope_scaling"] = new Dictionary<string, object> { ["rope_type"] = "llama3", ["factor"] = c.Rope.Factor, ["low_freq_factor"] = c.Rope.LowFreqFactor,
                ["high_freq_factor"] = c.Rope.HighFreqFactor, ["original_max_position_embeddings"] = c.Rope.OriginalMaxPositionEmbeddings },
            ["tie_word_embeddings"] = true, ["max_position_embeddings"] = c.MaxPositionEmbeddings, ["bos_token_id"] = 128000,
            ["eos_token_id"] = c.EosTokenIds, ["torch_dtype"] = "float32", ["hidden_act"] = "silu",
        }, new JsonSerializerOptions { WriteIndented = true }));
        Text.BundledTokenizer.WriteTo(tmp);
        File.WriteAllText(Path.Combine(tmp, "README.txt"),
            ReadmeHeader + "\n" +
            "Llama-3 tokenizer (tokenizer.model, Meta Llama 3 Community License, LICENSE beside it). Its outputs are meaningless.\n");
        Publish(tmp, dir);
        return dir;
    }

    private static bool IsComplete(string dir) =>
        new[] { "model.safetensors", "config.json", "tokenizer.model" }.All(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>
    /// Moves the finished <paramref name="tmp"/> to <paramref name="dir"/> with one rename. Concurrent first uses
    /// each build their own copy; the first rename wins, and the others find a complete folder and drop theirs
    /// (a folder is never deleted while another process may be reading it). An incomplete folder left by an
    /// older version is renamed aside first, never deleted in place.
    /// </summary>
    private static void Publish(string tmp, string dir)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                Directory.Move(tmp, dir);
                return;
            }
            catch (IOException) when (Directory.Exists(dir) && attempt < 3)
            {
                if (IsComplete(dir)) { Directory.Delete(tmp, recursive: true); return; }
                var aside = AtomicFile.TemporaryPathFor(dir);
                try { Directory.Move(dir, aside); Directory.Delete(aside, recursive: true); }
                catch (IOException) { }   // another process moved it first
            }
        }
    }
}
