using System.Text.Json.Nodes;

namespace FinQLora.Tests.Cli;

public class CoreCommandsTests
{
    [Fact]
    public void Tokenize_prints_transformers_ids()
    {
        var entry = Fixtures.Expected["tokens"]!.AsArray()[1]!;
        var r = CliProcess.Run("tokenize", "--model", Fixtures.TinyModel, "--text", entry["text"]!.GetValue<string>());
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(Fixtures.Ints(entry["ids"]), Fixtures.Ints(JsonNode.Parse(r.Stdout)));
        var plain = CliProcess.Run("tokenize", "--model", Fixtures.TinyModel, "--text", entry["text"]!.GetValue<string>(), "--no-special");
        Assert.Equal(Fixtures.Ints(entry["ids_no_special"]), Fixtures.Ints(JsonNode.Parse(plain.Stdout)));
    }

    public static IEnumerable<object[]> ModelFolders() => [["model"], ["model-sharded"], ["classic-config"]];

    [Theory]
    [MemberData(nameof(ModelFolders))]
    public void Score_gives_transformers_logprobs_within_1e3(string folder)
    {
        string model = folder == "classic-config" ? ClassicConfigCopy() : Fixtures.Parity(folder);
        var (input, scores) = ScoreInput();
        var r = CliProcess.Run("score", "--model", model, "--input", input);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        Assert.Equal(scores.Count, lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            Assert.Equal(scores[i]!["prompt"]!.GetValue<string>(), lines[i]["prompt"]!.GetValue<string>());
            Assert.Equal(scores[i]!["n_tokens"]!.GetValue<int>(), lines[i]["n_tokens"]!.GetValue<int>());
            Assert.InRange(lines[i]["logprob"]!.GetValue<double>() - scores[i]!["logprob"]!.GetValue<double>(), -1e-3, 1e-3);
        }
    }

    [Fact]
    public void Score_of_tied_and_bf16_models()
    {
        var (input, scores) = ScoreInput();
        var tied = CliProcess.Run("score", "--model", Fixtures.Parity("model-tied"), "--input", input);
        Assert.True(tied.ExitCode == 0, tied.Stderr);
        var bf16 = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", input, "--dtype", "bfloat16");
        Assert.True(bf16.ExitCode == 0, bf16.Stderr);
        var tiedLines = tied.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        var bfLines = bf16.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();
        for (int i = 0; i < scores.Count; i++)
        {
            Assert.InRange(tiedLines[i]["logprob"]!.GetValue<double>() - scores[i]!["logprob_tied"]!.GetValue<double>(), -1e-3, 1e-3);
            // bf16 rounding differs between kernels: within 2% of the sum
            double expected = scores[i]!["logprob"]!.GetValue<double>();
            Assert.InRange(bfLines[i]["logprob"]!.GetValue<double>(), expected - 0.02 * Math.Abs(expected), expected + 0.02 * Math.Abs(expected));
        }
    }

    [Fact]
    public void Generate_greedy_ids_equal_transformers()
    {
        foreach (var g in Fixtures.Expected["greedy"]!.AsArray())
        {
            var r = CliProcess.Run("generate", "--model", Fixtures.TinyModel, "--prompt", g!["prompt"]!.GetValue<string>(), "--max-new-tokens", "20", "--json");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(Fixtures.Ints(g["new_ids"]), Fixtures.Ints(JsonNode.Parse(r.Stdout)!["token_ids"]));
        }
        var chat = Fixtures.Expected["greedy_chat"]!;
        var c = CliProcess.Run("generate", "--model", Fixtures.TinyModel, "--prompt", chat["messages"]![0]!["content"]!.GetValue<string>(), "--chat", "--max-new-tokens", "12", "--json");
        Assert.Equal(Fixtures.Ints(chat["new_ids"]), Fixtures.Ints(JsonNode.Parse(c.Stdout)!["token_ids"]));
    }

    [Fact]
    public void Sampling_is_reproducible_for_a_seed()
    {
        string[] args = ["generate", "--model", Fixtures.TinyModel, "--prompt", "Revenue", "--temperature", "0.8", "--top-p", "0.9", "--seed", "5", "--max-new-tokens", "8", "--json"];
        Assert.Equal(CliProcess.Run(args).Stdout, CliProcess.Run(args).Stdout);
    }

    [Fact]
    public void Bad_inputs_give_one_line_and_a_nonzero_exit()
    {
        var missing = CliProcess.Run("score", "--model", "/nonexistent/model", "--input", "/nonexistent/in.jsonl");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.StartsWith("error: ", missing.Stderr);
        Assert.DoesNotContain("   at ", missing.Stderr);

        var cuda = CliProcess.Run("generate", "--model", Fixtures.TinyModel, "--prompt", "x", "--device", "cuda");
        Assert.Equal(3, cuda.ExitCode);
        Assert.Contains("no CUDA device", cuda.Stderr);

        var dir = Fixtures.TempDir();
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var weights = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
        var truncated = CliProcess.Run("generate", "--model", dir, "--prompt", "x");
        Assert.NotEqual(0, truncated.ExitCode);
        Assert.Contains("model.safetensors", truncated.Stderr);
        Assert.Contains("truncated", truncated.Stderr);
    }

    private static (string Path, JsonArray Scores) ScoreInput()
    {
        var scores = Fixtures.Expected["scores"]!.AsArray();
        var path = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllLines(path, scores.Select(s => new JsonObject { ["prompt"] = s!["prompt"]!.GetValue<string>(), ["completion"] = s["completion"]!.GetValue<string>() }.ToJsonString()));
        return (path, scores);
    }

    /// <summary>The fixture model with its config rewritten in the classic shape (rope_theta, rope_scaling, torch_dtype).</summary>
    private static string ClassicConfigCopy()
    {
        var dir = Fixtures.TempDir();
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        var rope = config["rope_parameters"]!.AsObject();
        config.Remove("rope_parameters");
        config["rope_theta"] = rope["rope_theta"]!.GetValue<double>();
        rope.Remove("rope_theta");
        config["rope_scaling"] = rope;
        config["torch_dtype"] = config["dtype"]!.GetValue<string>();
        config.Remove("dtype");
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        return dir;
    }
}
