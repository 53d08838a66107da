using System.Text.Json.Nodes;

namespace FinQLora.Tests.Cli;

/// <summary>An adapter used on another base than its finqlora_base.json records gets a warning saying what to add (docs/ADAPTERS.md).</summary>
public class AdapterBaseWarningTests
{
    private static string StageTwoAdapter(string mode)
    {
        var dir = Fixtures.TempDir();
        foreach (var f in Directory.GetFiles(Fixtures.Parity("adapter-a"))) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        File.WriteAllText(Path.Combine(dir, "finqlora_base.json"), new JsonObject
        {
            ["stage"] = "stage2", ["base_model"] = Fixtures.TinyModel, ["base_dtype"] = "float32", ["base_quantize"] = "nf4",
            ["init_adapter"] = Fixtures.Parity("adapter-b"), ["init_adapter_mode"] = mode, ["requantized_from"] = null,
        }.ToJsonString());
        return dir;
    }

    private static string Pairs()
    {
        var input = Path.Combine(Fixtures.TempDir(), "pairs.jsonl");
        File.WriteAllText(input, """{"prompt": "Revenue rose", "completion": " sharply"}""" + "\n");
        return input;
    }

    [Fact]
    public void A_stage_two_adapter_alone_or_without_nf4_is_warned_about_and_the_recorded_stack_is_not()
    {
        var adapter = StageTwoAdapter("stack");
        var r = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--adapter", adapter, "--input", Pairs());
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"warning: {adapter} was trained stacked on {Fixtures.Parity("adapter-b")} (finqlora_base.json); alone it is not the trained model: " +
                        $"pass --adapter {Fixtures.Parity("adapter-b")} --adapter {adapter}", r.Stderr);
        Assert.Contains($"warning: {adapter} was trained on an NF4 base (finqlora_base.json: base_quantize nf4); without --quantize nf4 the base differs from the trained one", r.Stderr);

        r = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--adapter", Fixtures.Parity("adapter-b"), "--adapter", adapter, "--quantize", "nf4", "--input", Pairs());
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.DoesNotContain("warning:", r.Stderr);
    }

    [Fact]
    public void A_stage_two_adapter_trained_on_a_merged_base_is_warned_about_on_the_plain_base_in_merge_too()
    {
        var adapter = StageTwoAdapter("merge");
        var r = CliProcess.Run("merge", "--model", Fixtures.TinyModel, "--adapter", adapter, "--output", Path.Combine(Fixtures.TempDir(), "merged"), "--dtype", "float32");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"warning: {adapter} was trained on {Fixtures.TinyModel} with {Fixtures.Parity("adapter-b")} merged into it (finqlora_base.json); on the plain base it is not the trained model", r.Stderr);
    }
}
