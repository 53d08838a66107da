using System.Diagnostics;
using System.Text.RegularExpressions;
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
        File.WriteAllText(Path.Combine(eval, "metrics.json"), """{"fpb":{"acc":0.8,"f1":0.79},"finqa":{"acc":0.12},"bigdata22":{"acc":0.55},"ner":{"entity_f1":0.5}}""");
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
        var md = File.ReadAllText(Path.Combine(output, "results.md"));
        Assert.Contains("| FinQLora (eval) | 12.00 | -- | 79.00 | -- | 55.00 | 50.00 |", md);
        Assert.Contains("| QLoRA Llama-3.1-8B-Instruct (paper) | 14.65 | 40.40 | 86.00 | 76.00 | 57.55 | 59.30 |", md);
        var html = File.ReadAllText(Path.Combine(output, "report.html"));
        Assert.Equal(4, Regex.Matches(html, "data:image/png;base64,").Count);
        Assert.Contains("A&amp;B_100%", html);
    }

    [Fact]
    public void Missing_inputs_give_figures_with_a_note_not_a_crash()
    {
        var output = Path.Combine(Fixtures.TempDir(), "report");
        var files = ReportBuilder.Build(new ReportInputs([], [], []), output);
        Assert.Equal(8, files.Count);
        Assert.All(files, f => Assert.True(File.Exists(f)));
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
