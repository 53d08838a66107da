using System.CommandLine;
using System.Text.Json.Nodes;
using FinQLora.Cli;
using FinQLora.Cli.Commands;

namespace FinQLora.Tests.Cli;

/// <summary>`finqlora tokenize` run in-process (tests run one at a time, so capturing the console is safe).</summary>
public class TokenizeCommandTests
{
    private static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var root = new RootCommand { TokenizeCommand.Create() };
        root.Options.Add(CliOptions.Verbose);
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var (oldOut, oldErr) = (Console.Out, Console.Error);
        Console.SetOut(stdout);
        Console.SetError(stderr);
        try { return (CliRunner.Invoke(root, ["tokenize", .. args]), stdout.ToString(), stderr.ToString()); }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    [Fact]
    public void Prints_transformers_ids_with_bos_first()
    {
        foreach (var entry in Fixtures.Expected["tokens"]!.AsArray())
        {
            var text = entry!["text"]!.GetValue<string>();
            var r = Run("--model", Fixtures.TinyModel, "--text", text);
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(Fixtures.Ints(entry["ids"]), Fixtures.Ints(JsonNode.Parse(r.Stdout)));
        }
    }

    [Fact]
    public void No_special_leaves_out_bos()
    {
        var entry = Fixtures.Expected["tokens"]!.AsArray()[0]!;
        var r = Run("--model", Fixtures.TinyModel, "--text", entry["text"]!.GetValue<string>(), "--no-special");
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(Fixtures.Ints(entry["ids_no_special"]), Fixtures.Ints(JsonNode.Parse(r.Stdout)));
    }

    [Fact]
    public void A_missing_model_folder_is_one_error_line_naming_it()
    {
        var missing = Path.Combine(Fixtures.TempDir(), "no-such-model");
        var r = Run("--model", missing, "--text", "x");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.Contains(missing, lines[0]);
    }

    [Fact]
    public void Text_is_required()
    {
        var r = Run("--model", Fixtures.TinyModel);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--text", r.Stderr);
    }
}
