using System.Diagnostics;
using System.Text.RegularExpressions;
using FinQLora.Evaluation;
using FinQLora.Reports;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.Reports;

public class ReportTests
{
    private static string FixtureRuns()
    {
        var root = Fixtures.TempDir();
        var run = Path.Combine(root, "curriculum", "stage1");
        Directory.CreateDirectory(run);
        File.WriteAllLines(Path.Combine(run, "metrics.jsonl"), Enumerable.Range(1, 10).Select(i =>
            $$"""{"kind":"train","stage":"stage1","step":{{i}},"epoch":{{i / 10.0}},"loss":{{3.0 - i * 0.1}},"lr":0.0002,"grad_norm":1.0,"tokens_per_s":1000,"step_time_s":0.5,"gpu_mem_gib":6.1}""")
            .Append("""{"kind":"val","stage":"stage1","step":10,"val_loss":2.5}"""));
        File.WriteAllLines(Path.Combine(run, "gpu.jsonl"), Enumerable.Range(0, 5).Select(i =>
            $$"""{"time":"2026-11-28T20:00:0{{i}}Z","t_s":{{i}},"gpu":0,"util_pct":{{90 + i}},"mem_used_mib":7000,"mem_total_mib":143771,"power_w":400,"temp_c":50,"sm_clock_mhz":1980}"""));
        File.WriteAllText(Path.Combine(run, "config.yaml"), "stage: stage1 # A&B_100%\n");
        var eval = Path.Combine(root, "curriculum", "eval");
        Directory.CreateDirectory(eval);
        File.WriteAllText(Path.Combine(eval, "metrics.json"), """{"fpb":{"acc":0.8,"f1":0.79,"missing":0.1},"finqa":{"acc":0.12},"bigdata22":{"acc":0.55,"missing":0.0,"defaulted":0.25},"ner":{"entity_f1":0.5}}""");
        new EvaluationInfo(new Dictionary<string, string>
        {
            ["model.path"] = "tiny", ["model.adapters"] = Path.Combine(run, "adapter") + " (stack)", ["model.quantize"] = "nf4", ["data"] = "/data/flare",
            ["split"] = "test", ["mode"] = "generate", ["limit"] = "8", ["max_new_tokens"] = "64", ["max_length"] = "1024",
        }).Write(eval);
        File.WriteAllLines(Path.Combine(eval, "predictions.jsonl"), new[] { "bigdata22", "finqa", "fpb", "ner" }.SelectMany(t => Enumerable.Repeat($$"""{"task": "{{t}}"}""", 8)));
        File.WriteAllLines(Path.Combine(root, "bench.jsonl"), [
            """{"side":"finqlora","method":"qlora","shape":"llama3.1-8b","tokens_per_s":7800,"peak_reserved_gib":20,"resident_gib":5.5,"trainable_params":13631488,"storage_bytes":27262976}""",
            """{"side":"finqlora","method":"full","shape":"llama3.1-8b","tokens_per_s":6500,"peak_reserved_gib":120,"resident_gib":15,"trainable_params":8030261248,"storage_bytes":16060522496}""",
        ]);
        return root;
    }

    [Fact]
    public void A_bad_line_in_metrics_jsonl_is_skipped_with_one_warning_naming_file_and_line()
    {
        // a valid JSON line of the wrong types (as a half-written or hand-edited log may hold) must not stop the report
        var root = FixtureRuns();
        var metrics = Path.Combine(root, "curriculum", "stage1", "metrics.jsonl");
        var lines = File.ReadAllLines(metrics).ToList();
        lines.Insert(2, """{"kind":5}""");
        lines.Insert(4, """{"kind":"train","stage":"stage1","step":"x"}""");
        File.WriteAllLines(metrics, lines);
        var output = Path.Combine(root, "report");
        var r = CliProcess.Run("report", "--runs", Path.Combine(root, "curriculum"), "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var warning = Assert.Single(r.Stderr.Split('\n'), l => l.StartsWith("warning: ", StringComparison.Ordinal));
        Assert.StartsWith($"warning: {metrics}:3: skipped a bad line (", warning);
        Assert.EndsWith(" and 1 more (lines 5)", warning);
        Assert.True(File.Exists(Path.Combine(output, "training_curves.png")));
    }

    [Fact]
    public void Report_writes_every_file_with_300_dpi_figures()
    {
        var root = FixtureRuns();
        var output = Path.Combine(root, "report");
        var r = CliProcess.Run("report", "--runs", Path.Combine(root, "curriculum"), "--results", Path.Combine(root, "curriculum", "eval"), "--bench", Path.Combine(root, "bench.jsonl"), "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var png in new[] { "training_curves.png", "gpu_utilization.png", "performance_comparison.png", "efficiency_comparison.png" })
        {
            Assert.Equal(300, Png.ReadDpi(Path.Combine(output, png))!.Value, 0);
            Assert.True(new FileInfo(Path.Combine(output, png)).Length > 20_000, png);
        }
        // task_metrics.png only for runs that measured task metrics during training (these did not)
        Assert.Equal(ReportBuilder.FileNames.Where(f => f != "task_metrics.png").Order(), Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.Contains($"wrote 8 file(s) in {Path.GetFullPath(output)}:", r.Stdout);
        var md = File.ReadAllText(Path.Combine(output, "results.md"));
        // the row is named by its model and adapter (evaluation.json), not by the folder
        Assert.Contains("| tiny + stage1 | 12.00 | -- | 79.00 | -- | 55.00 | 50.00 |", md);
        Assert.Contains("| QLoRA Llama-3.1-8B-Instruct (paper) | 14.65 | 40.40 | 86.00 | 76.00 | 57.55 | 59.30 |", md);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Equal(4, Regex.Matches(html, "data:image/png;base64,").Count);
        Assert.Contains("A&amp;B_100%", html);
    }

    [Fact]
    public void A_random_weight_model_is_named_on_every_text_output_and_its_settings_and_per_task_metrics_are_in_the_page()
    {
        var root = FixtureRuns();
        var output = Path.Combine(root, "report");
        var r = CliProcess.Run("report", "--results", Path.Combine(root, "curriculum", "eval"), "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        foreach (var file in new[] { "results.md", "results.tex", "report.html" })
            Assert.Contains("RANDOM WEIGHTS: tiny + stage1 uses a model with random weights", File.ReadAllText(Path.Combine(output, file)));
        var md = File.ReadAllText(Path.Combine(output, "results.md"));
        // the composite column averages only what was evaluated, and says so
        Assert.Contains("SMP acc of tiny + stage1 = mean accuracy over BigData22 only (ACL18, CIKM18 not evaluated; the reported rows average ACL18, BigData22, CIKM18).", md);
        Assert.Contains("tiny + stage1 scored 8 test rows per task (limit 8 per task) on bigdata22, finqa, fpb, ner.", md);
        Assert.Contains(@"mean accuracy over BigData22 only (ACL18, CIKM18 not evaluated", File.ReadAllText(Path.Combine(output, "results.tex")));
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("<div class=\"banner\">", html);
        // the per-task table: missing and defaulted side by side, in %
        Assert.Contains("<th>missing (%)</th><th>defaulted (%)</th>", html);
        Assert.Contains("<tr><td>bigdata22</td><td>8</td><td>55.00</td>", html);
        Assert.Contains("<td>0.00</td><td>25.00</td></tr>", html);
        // the settings: model (random), adapters, data, limit
        Assert.Contains("<tr><td>model</td><td>tiny (RANDOM weights)</td></tr>", html);
        Assert.Contains("<tr><td>limit</td><td>8</td></tr>", html);
        Assert.Contains("<tr><td>data</td><td>/data/flare (test split)</td></tr>", html);
        Assert.Contains($"<tr><td>adapters</td><td>{Path.Combine(root, "curriculum", "stage1", "adapter")}</td></tr>", html);
    }

    [Fact]
    public void Files_with_nothing_to_show_are_left_out_with_the_reason_in_the_output_and_the_page()
    {
        // a CPU run without validation, no bench: no GPU figure, no efficiency table or figure, no claim of validation loss
        var root = FixtureRuns();
        var metrics = Path.Combine(root, "curriculum", "stage1", "metrics.jsonl");
        File.WriteAllLines(metrics, File.ReadAllLines(metrics).Where(l => !l.Contains("\"val\"")));
        File.Delete(Path.Combine(root, "curriculum", "stage1", "gpu.jsonl"));
        var output = Path.Combine(root, "report");
        var r = CliProcess.Run("report", "--runs", Path.Combine(root, "curriculum"), "--results", Path.Combine(root, "curriculum", "eval"), "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(["performance_comparison.png", "report.html", "results.md", "results.tex", "training_curves.png"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.Contains("left out gpu_utilization.png: no GPU samples (gpu.jsonl) in the runs", r.Stdout);
        Assert.Contains("left out efficiency.tex: no bench results given", r.Stdout);
        Assert.Contains("left out efficiency_comparison.png: no bench results given", r.Stdout);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Contains("gpu_utilization.png: no GPU samples", html);
        Assert.Contains("Training loss and learning rate (no validation loss was logged", html);
        Assert.DoesNotContain("validation loss, learning rate", html);
        Assert.DoesNotContain("Efficiency</h2><table>", html);
        Assert.Equal(2, Regex.Matches(html, "data:image/png;base64,").Count);
    }

    [Fact]
    public void A_report_with_no_inputs_is_refused_and_writes_nothing()
    {
        var output = Path.Combine(Fixtures.TempDir(), "report");
        var r = CliProcess.Run("report", "--output", output);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("error: report needs something to report: give --runs DIR, --results DIR or --bench FILE (nothing was written)", r.Stderr.Trim());
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void An_earlier_report_is_refused_without_overwrite_and_replaced_with_it()
    {
        var root = FixtureRuns();
        var output = Path.Combine(root, "report");
        Assert.Equal(0, CliProcess.Run("report", "--runs", Path.Combine(root, "curriculum"), "--bench", Path.Combine(root, "bench.jsonl"), "--output", output).ExitCode);
        var before = File.ReadAllBytes(Path.Combine(output, "report.html"));
        var r = CliProcess.Run("report", "--results", Path.Combine(root, "curriculum", "eval"), "--output", output);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"error: the output folder {output} already holds files (an earlier report?): pass --overwrite", r.Stderr);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(output, "report.html")));
        File.WriteAllText(Path.Combine(output, "notes.txt"), "mine");
        r = CliProcess.Run("report", "--results", Path.Combine(root, "curriculum", "eval"), "--label", "my model", "--output", output, "--overwrite");
        Assert.True(r.ExitCode == 0, r.Stderr);
        // the figures of the earlier report that this one leaves out are gone; a file the report does not write stays
        Assert.False(File.Exists(Path.Combine(output, "training_curves.png")));
        Assert.False(File.Exists(Path.Combine(output, "efficiency.tex")));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(output, "notes.txt")));
        Assert.Contains("| my model | 12.00 |", File.ReadAllText(Path.Combine(output, "results.md")));
    }

    [Fact]
    public void Two_evaluations_of_the_same_model_get_distinct_row_labels_and_a_label_count_that_does_not_match_is_refused()
    {
        var root = FixtureRuns();
        var eval = Path.Combine(root, "curriculum", "eval");
        var copy = Path.Combine(root, "eval-b");
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(eval)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var output = Path.Combine(root, "report");
        var r = CliProcess.Run("report", "--results", eval, "--results", copy, "--output", output);
        Assert.True(r.ExitCode == 0, r.Stderr);
        var md = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains($"| tiny + stage1 ({Path.GetFullPath(eval)}) |", md);
        Assert.Contains($"| tiny + stage1 ({Path.GetFullPath(copy)}) |", md);
        r = CliProcess.Run("report", "--results", eval, "--results", copy, "--label", "a", "--output", Path.Combine(root, "report2"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--label was given 1 time(s) for 2 --results folder(s)", r.Stderr);
    }

    [Fact]
    public void Latex_is_balanced_and_escaped()
    {
        var root = FixtureRuns();
        var tex = Tables.ResultsTex([ResultsData.Load(Path.Combine(root, "curriculum", "eval"))]) + Tables.EfficiencyTex(BenchRow.Load(Path.Combine(root, "bench.jsonl")).ToList());
        Assert.Equal(Regex.Matches(tex, @"\\begin\{").Count, Regex.Matches(tex, @"\\end\{").Count);
        foreach (var env in new[] { "table", "tabular" }) Assert.Equal(Regex.Matches(tex, $@"\\begin\{{{env}\}}").Count, Regex.Matches(tex, $@"\\end\{{{env}\}}").Count);
        int depth = 0;
        for (int i = 0; i < tex.Length; i++)
        {
            if (tex[i] == '\\') { i++; continue; }
            depth += tex[i] == '{' ? 1 : tex[i] == '}' ? -1 : 0;
            Assert.True(depth >= 0);
        }
        Assert.Equal(0, depth);
        Assert.Equal(@"A\&B\_100\% \$x\# \{\} \textasciitilde{} \textasciicircum{} \textbackslash{}", Tables.Latex(@"A&B_100% $x# {} ~ ^ \"));
        Assert.Contains(@"\toprule", tex);
    }

    [ChromiumFact]
    public void Html_report_renders_in_headless_chromium_to_a_non_blank_page()
    {
        var chromium = Chromium.Path() ?? throw new InvalidOperationException("CI=true but chromium is not installed: run build/install-test-deps.sh");
        var root = FixtureRuns();
        var output = Path.Combine(root, "report");
        ReportBuilder.Build(new ReportInputs([Path.Combine(root, "curriculum")], [Path.Combine(root, "curriculum", "eval")], [Path.Combine(root, "bench.jsonl")]), output);
        var shot = Path.Combine(root, "shot.png");
        var psi = new ProcessStartInfo(chromium) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--user-data-dir=" + Path.Combine(root, "chromium-profile"), "--screenshot=" + shot,
                     "--window-size=1200,2000", new Uri(Path.Combine(output, "report.html")).AbsoluteUri })
            psi.ArgumentList.Add(a);
        using (var p = Process.Start(psi)!)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            _ = p.StandardOutput.ReadToEndAsync();
            if (!p.WaitForExit(TimeSpan.FromSeconds(90))) { p.Kill(true); Assert.Fail("chromium did not finish in 90 s"); }
            Assert.True(File.Exists(shot), "no screenshot; chromium said: " + stderr.Result);
        }
        using var bitmap = SkiaSharp.SKBitmap.Decode(shot);
        Assert.Equal((1200, 2000), (bitmap.Width, bitmap.Height));
        var colours = new HashSet<uint>();
        int nonWhite = 0;
        for (int y = 0; y < bitmap.Height; y += 4)
            for (int x = 0; x < bitmap.Width; x += 4)
            {
                var c = bitmap.GetPixel(x, y);
                colours.Add((uint)c);
                if (c.Red < 200 || c.Green < 200 || c.Blue < 200) nonWhite++;
            }
        Assert.True(colours.Count > 50, $"screenshot has only {colours.Count} colours");   // text, tables and the embedded figures
        Assert.True(nonWhite > 1000, $"screenshot is nearly blank ({nonWhite} dark samples)");
    }
}
