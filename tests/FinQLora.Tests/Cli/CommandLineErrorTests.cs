namespace FinQLora.Tests.Cli;

/// <summary>
/// Command-line mistakes through the real program: one line on stderr naming the option and what it expects, with
/// "see finqlora CMD --help", exit code 2, no help text dumped (docs/ERRORS.md, "The command line").
/// </summary>
public class CommandLineErrorTests
{
    private static string Samples => Path.Combine(AppContext.BaseDirectory, "samples");

    public static TheoryData<string[], string> Mistakes() => new()
    {
        // wrong type, unknown option, command typo, missing command or value
        { ["evaluate", "--limit", "abc", "--output", "x"], "error: --limit 'abc': expected a whole number; see finqlora evaluate --help" },
        { ["generate", "--temperature", "hot", "--model", "x", "--prompt", "p"], "error: --temperature 'hot': expected a number; see finqlora generate --help" },
        { ["evaluate", "--bogus", "1", "--output", "x"], "error: unknown option '--bogus' for finqlora evaluate; see finqlora evaluate --help" },
        { ["evaluate", "--ouptut", "x"], "error: unknown option '--ouptut' for finqlora evaluate (did you mean '--output'?); see finqlora evaluate --help" },
        { ["evalute", "--output", "x"], "error: unknown command 'evalute' (did you mean 'evaluate'?); see finqlora --help" },
        { ["data", "stat"], "error: unknown command 'stat' (did you mean 'stats'?); see finqlora data --help" },
        { [], "error: finqlora needs a command: env, init, tokenize, score, generate, bench, prepare-data, data, evaluate, train, curriculum, report, quantize, merge, params, config, serve, serve-bench; see finqlora --help" },
        { ["data", "stats"], "error: finqlora data stats needs --data; see finqlora data stats --help" },
        { ["params", "--shape", "llama9"], "error: --shape 'llama9': expected llama3.1-8b, tiny, or the path of a config.json (no such file); see finqlora params --help" },
        { ["params", "--shape", "tiny", "--targets", "q_proj,foo"], "error: --targets: unknown target(s) foo; expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (comma-separated) or all-linear; see finqlora params --help" },
        { ["evaluate", "--tasks", "fbp", "--output", "x"], "error: --tasks: unknown task 'fbp' (did you mean 'fpb'?); known tasks: all, fpb, fiqasa, headlines, ner, finqa, convfinqa, acl18, bigdata22, cikm18; see finqlora evaluate --help" },
        // issue 22's option values: each refused before anything is loaded
        { ["evaluate", "--limit", "-1", "--output", "x"], "error: --limit -1: must be at least 1; see finqlora evaluate --help" },
        { ["evaluate", "--tasks", "", "--output", "x"], "error: --tasks is empty: give all, or task names such as fpb,ner; see finqlora evaluate --help" },
        { ["evaluate", "--max-new-tokens", "0", "--output", "x"], "error: --max-new-tokens 0: must be at least 1; see finqlora evaluate --help" },
        { ["generate", "--max-new-tokens", "0", "--model", "x", "--prompt", "p"], "error: --max-new-tokens 0: must be at least 1; see finqlora generate --help" },
        { ["score", "--batch-size", "0", "--model", "x", "--input", "y"], "error: --batch-size 0: must be at least 1; see finqlora score --help" },
        { ["score", "--batch-size", "-1", "--model", "x", "--input", "y"], "error: --batch-size -1: must be at least 1; see finqlora score --help" },
        { ["generate", "--temperature", "-1", "--model", "x", "--prompt", "p"], "error: --temperature -1: must be a finite number >= 0; see finqlora generate --help" },
        { ["generate", "--top-p", "NaN", "--model", "x", "--prompt", "p"], "error: --top-p NaN: must be a number in (0, 1]; see finqlora generate --help" },
        { ["evaluate", "--max-length", "0", "--output", "x"], "error: --max-length 0: must be at least 2; see finqlora evaluate --help" },
        { ["data", "stats", "--data", "x", "--max-length", "0"], "error: --max-length 0: must be at least 1; see finqlora data stats --help" },
        { ["generate", "--device", "cuda:abc", "--model", "x", "--prompt", "p"], "error: --device cuda:abc: expected cpu, cuda or cuda:N (N = the GPU's index, 0, 1, ...); see finqlora generate --help" },
        { ["evaluate", "--mode", "beam", "--output", "x"], "error: --mode 'beam': expected generate or loglik; see finqlora evaluate --help" },
        { ["score", "--quantize", "nf8", "--model", "x", "--input", "y"], "error: --quantize 'nf8': expected none or nf4; see finqlora score --help" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void A_command_line_mistake_is_one_line_naming_the_option_and_exit_code_2(string[] args, string expected)
    {
        var r = CliProcess.Run(args);
        Assert.True(r.ExitCode == 2, $"exit {r.ExitCode}: {r.Stderr}");
        Assert.Equal(expected, r.Stderr.Trim());
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void A_curriculum_config_given_to_train_and_a_stage_config_given_to_curriculum_name_the_other_command()
    {
        var configs = Path.Combine(CliProcess.RepoRoot(), "configs");
        var r = CliProcess.Run("train", "--config", Path.Combine(configs, "quickstart.yaml"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {Path.Combine(configs, "quickstart.yaml")} is a curriculum config (it has stages:): run it with finqlora curriculum --config {Path.Combine(configs, "quickstart.yaml")}", r.Stderr.Trim());
        r = CliProcess.Run("curriculum", "--config", Path.Combine(configs, "stage1.yaml"));
        Assert.Equal(2, r.ExitCode);
        Assert.Equal($"error: {Path.Combine(configs, "stage1.yaml")} is a stage config (no stages: list): train it with finqlora train --config {Path.Combine(configs, "stage1.yaml")}", r.Stderr.Trim());
    }

    [Fact]
    public void Loglik_on_a_task_without_choices_is_refused_instead_of_silently_generating()
    {
        var output = Path.Combine(Fixtures.TempDir(), "eval");
        var r = CliProcess.Run("evaluate", "--model", Fixtures.TinyModel, "--data", Samples, "--tasks", "fpb,ner", "--mode", "loglik", "--output", output);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: --mode loglik picks the likeliest of a task's choices, and ner has none: use --mode generate, or --tasks with classification tasks only (fpb,fiqasa,headlines,acl18,bigdata22,cikm18)", r.Stderr.Trim());
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Score_refuses_a_row_over_max_length_before_scoring_and_says_what_it_wrote()
    {
        var dir = Fixtures.TempDir();
        var input = Path.Combine(dir, "in.jsonl");
        File.WriteAllLines(input, ["""{"prompt": "Revenue rose", "completion": " sharply"}""", $$"""{"prompt": "{{string.Concat(Enumerable.Repeat("profit ", 300))}}", "completion": " up"}"""]);
        var output = Path.Combine(dir, "out.jsonl");
        var r = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", input, "--output", output, "--max-length", "64");
        Assert.Equal(2, r.ExitCode);
        Assert.Matches(@"^error: .*in\.jsonl:2: prompt \+ completion is \d+ tokens, more than --max-length 64: shorten the row or raise --max-length \(nothing was scored\)$", r.Stderr.Trim());
        Assert.False(File.Exists(output));
        r = CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", input, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"wrote {output} (2 row(s) scored)", r.Stderr);
        Assert.Equal(2, File.ReadAllLines(output).Length);
    }

    [Fact]
    public void Data_stats_without_output_writes_nothing_into_the_data_folder()
    {
        var data = Fixtures.TempDir();
        Directory.CreateDirectory(Path.Combine(data, "fpb"));
        File.Copy(Path.Combine(Samples, "fpb", "test.jsonl"), Path.Combine(data, "fpb", "test.jsonl"));
        var r = CliProcess.Run("data", "stats", "--data", data, "--tasks", "fpb");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("no files written (pass --output DIR for stats.json and length-histogram.png)", r.Stdout);
        Assert.Equal([Path.Combine(data, "fpb")], Directory.GetFileSystemEntries(data));
        var output = Path.Combine(Fixtures.TempDir(), "stats");
        r = CliProcess.Run("data", "stats", "--data", data, "--tasks", "fpb", "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"wrote {Path.Combine(output, "stats.json")} and {Path.Combine(output, "length-histogram.png")}", r.Stdout);
    }
}
