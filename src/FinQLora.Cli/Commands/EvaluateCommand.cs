using System.CommandLine;
using System.Diagnostics;
using FinQLora.Evaluation;
using FinQLora.Tasks;
using Spectre.Console;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora evaluate`: the FLARE suite with a model, or re-scoring of saved predictions.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        model.Model.Required = false;
        var tasks = new Option<string>("--tasks") { Description = "all, or a comma-separated list of tasks.", DefaultValueFactory = _ => "all" }.Tasks();
        var data = new Option<string?>("--data") { Description = "Prepared data folder (prepare-data output)." };
        var output = new Option<string>("--output") { Description = "Folder for predictions.jsonl, metrics.json and summary.md.", Required = true };
        var limit = new Option<int?>("--limit") { Description = "At most N rows per task (N >= 1)." }.AtLeast(1);
        var batch = new Option<int>("--batch-size") { Description = "Rows per generation batch.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens generated per row.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var mode = new Option<string>("--mode") { Description = "generate (greedy, PIXIU's parsing) or loglik (most likely choice; classification tasks).", DefaultValueFactory = _ => "generate" }.OneOf("generate", "loglik");
        var system = new Option<string?>("--system") { Description = "System prompt for the chat format (the same as in training)." };
        var maxLength = new Option<int>("--max-length") { Description = "Longest prompt + answer in tokens; longer contexts are cut in the middle.", DefaultValueFactory = _ => 4096 }.AtLeast(2);
        var predictions = new Option<string?>("--predictions") { Description = "Re-score this predictions.jsonl instead of running a model (it is copied into --output)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the predictions.jsonl, metrics.json and summary.md of an earlier evaluation in --output (a folder that holds files is refused without it)." };
        var command = new Command("evaluate", "Evaluate on FLARE tasks (greedy generation, PIXIU's parsing and metrics), or re-score saved predictions with --predictions.");
        model.AddTo(command);
        foreach (var o in new Option[] { tasks, data, output, limit, batch, maxNew, mode, system, maxLength, predictions, overwrite }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var outDir = parse.GetValue(output)!;
            SortedDictionary<string, SortedDictionary<string, double>> metrics;
            Dictionary<string, int> counts;
            if (parse.GetValue(predictions) is { } predPath)
            {
                var preds = PredictionsFile.Read(predPath);
                EvaluationFolder.Prepare(outDir, parse.GetValue(overwrite));
                (metrics, counts) = EvaluationFolder.Rescore(outDir, predPath, preds);
            }
            else
            {
                if (parse.GetValue(model.Model) is null) throw new FinQLoraException("evaluate needs --model DIR (or --predictions FILE to re-score)");
                var dataDir = parse.GetValue(data) ?? throw new FinQLoraException("evaluate needs --data DIR (the prepare-data output)");
                var selected = FlareTasks.Parse(parse.GetValue(tasks)!);
                if (parse.GetValue(mode) == "loglik" && selected.Where(t => !t.IsClassification).Select(t => t.Name).ToList() is { Count: > 0 } open)
                    throw new FinQLoraException($"--mode loglik picks the likeliest of a task's choices, and {string.Join(", ", open)} {(open.Count == 1 ? "has" : "have")} none: " +
                        $"use --mode generate, or --tasks with classification tasks only ({string.Join(",", FlareTasks.All.Where(t => t.IsClassification).Select(t => t.Name))})", exitCode: 2);
                var settings = new EvaluationSettings(selected, dataDir, parse.GetValue(limit), parse.GetValue(batch),
                    parse.GetValue(maxNew), parse.GetValue(mode)!, parse.GetValue(system), parse.GetValue(maxLength),
                    SkipMissing: parse.GetValue(tasks)!.Trim().Equals("all", StringComparison.OrdinalIgnoreCase));
                EvaluationFolder.Prepare(outDir, parse.GetValue(overwrite));   // before the model runs: a refusal costs nothing
                using var bundle = model.Load(parse);
                var info = EvaluationInfo.For(settings, parse.GetValue(model.Model)!, parse.GetValue(model.Adapters) ?? [], parse.GetValue(model.Quantize)!.ToLowerInvariant(),
                    parse.GetValue(model.Device)!, parse.GetValue(model.DType)!);
                (metrics, counts) = EvaluationFolder.Write(outDir, Run(bundle, settings), info);
            }
            if (Console.IsOutputRedirected) Console.Write(MetricsReport.Markdown(metrics, counts));
            else AnsiConsole.Write(SummaryTable(metrics, counts));
            Console.WriteLine($"wrote {Path.GetFullPath(outDir)}");
            return 0;
        });
        return command;
    }

    /// <summary>The summary as a console table: one row per task, one column per metric name (fractions, 4 places).</summary>
    private static Table SummaryTable(SortedDictionary<string, SortedDictionary<string, double>> metrics, IReadOnlyDictionary<string, int> counts)
    {
        var names = metrics.Values.SelectMany(m => m.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        var table = new Table().AddColumn("task").AddColumn(new TableColumn("rows").RightAligned());
        foreach (var n in names) table.AddColumn(new TableColumn(n).RightAligned());
        foreach (var (task, m) in metrics)
            table.AddRow([task, counts.GetValueOrDefault(task).ToString(System.Globalization.CultureInfo.InvariantCulture),
                .. names.Select(n => m.TryGetValue(n, out var v) ? v.ToString("0.0000", System.Globalization.CultureInfo.InvariantCulture) : "")]);
        return table.Caption("fractions (0-1); num_acc is FinQLora's numeric-tolerance accuracy, not a FLARE metric");
    }

    /// <summary>Runs the evaluator with a progress display (rows/s and tokens/s), plain lines when output is redirected.</summary>
    internal static List<Prediction> Run(Inference.ModelBundle bundle, EvaluationSettings settings)
    {
        var clock = Stopwatch.StartNew();
        if (Console.IsOutputRedirected || Console.IsErrorRedirected)
            return Evaluator.Run(bundle, settings, msg => Console.Error.WriteLine(msg),
                (task, done, total, tokens) => Console.Error.WriteLine($"{task}: {done}/{total} rows, {done / clock.Elapsed.TotalSeconds:F1} rows/s, {tokens / clock.Elapsed.TotalSeconds:F0} tokens/s"));
        List<Prediction> result = [];
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                result = Evaluator.Run(bundle, settings, msg => AnsiConsole.MarkupLine(Markup.Escape(msg)), (task, done, total, tokens) =>
                {
                    if (!bars.TryGetValue(task, out var bar)) bars[task] = bar = ctx.AddTask(task, maxValue: total);
                    bar.Value = done;
                    bar.Description = $"{task} {done / clock.Elapsed.TotalSeconds:F1} rows/s {tokens / clock.Elapsed.TotalSeconds:F0} tok/s";
                });
            });
        return result;
    }
}
