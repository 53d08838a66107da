using System.Text.Json.Nodes;

namespace FinQLora.Tests.Cli;

public class AdapterCommandsTests
{
    [Fact]
    public void Params_prints_PEFTs_line_for_the_8B_shape()
    {
        var r = CliProcess.Run("params", "--shape", "llama3.1-8b", "--lora-r", "16", "--lora-alpha", "32", "--targets", "q_proj,k_proj,v_proj,o_proj");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal("trainable params: 13,631,488 || all params: 8,043,892,736 || trainable%: 0.1695", r.Stdout.Trim());
        var bad = CliProcess.Run("params", "--shape", "llama3.1-8b", "--lora-r", "0");
        Assert.Equal(2, bad.ExitCode);
        Assert.Equal("error: --lora-r 0: must be at least 1; see finqlora params --help", bad.Stderr.Trim());
    }

    [Fact]
    public void Score_with_two_adapters_then_merge_then_score_the_merged_folder()
    {
        var input = Path.Combine(Fixtures.TempDir(), "in.jsonl");
        File.WriteAllLines(input, Fixtures.Expected["scores"]!.AsArray().Select(s =>
            new JsonObject { ["prompt"] = s!["prompt"]!.GetValue<string>(), ["completion"] = s["completion"]!.GetValue<string>() }.ToJsonString()));
        var expected = Fixtures.Expected["adapters"]!["adapter-a+b"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        double[] LogProbs(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!["logprob"]!.GetValue<double>()).ToArray();

        var scored = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", input, "--adapter", Fixtures.Parity("adapter-a"), "--adapter", Fixtures.Parity("adapter-b"));
        Assert.True(scored.ExitCode == 0, scored.Stderr);
        var withAdapters = LogProbs(scored.Stdout);
        for (int i = 0; i < expected.Length; i++) Assert.InRange(withAdapters[i] - expected[i], -1e-3, 1e-3);

        var output = Path.Combine(Fixtures.TempDir(), "merged");
        var merged = CliProcess.Run("merge", "--model", Fixtures.TinyModel, "--adapter", Fixtures.Parity("adapter-a"), "--adapter", Fixtures.Parity("adapter-b"),
            "--output", output, "--dtype", "float32");
        Assert.True(merged.ExitCode == 0, merged.Stderr);
        Assert.Contains("into 21 projections", merged.Stdout);
        var rescored = CliProcess.Run("score", "--model", output, "--input", input);
        Assert.True(rescored.ExitCode == 0, rescored.Stderr);
        var fromMerged = LogProbs(rescored.Stdout);
        for (int i = 0; i < expected.Length; i++) Assert.InRange(fromMerged[i] - expected[i], -1e-3, 1e-3);

        var again = CliProcess.Run("merge", "--model", Fixtures.TinyModel, "--adapter", Fixtures.Parity("adapter-a"), "--output", output);
        Assert.NotEqual(0, again.ExitCode);
        Assert.Contains("already exists and is not empty", again.Stderr);
    }

    [Fact]
    public void Merge_help_says_what_happens_to_an_NF4_base()
    {
        var r = CliProcess.Run("merge", "--help");
        Assert.Contains("dequantized", r.Stdout);
        Assert.Contains("--requantize", r.Stdout);
        Assert.Contains("bfloat16", r.Stdout);
    }
}
