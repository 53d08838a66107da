using System.CommandLine;
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
        var resume = new Option<bool>("--resume") { Description = "Continue the interrupted evaluation in --output (same options): its finished rows are kept, only the missing ones run; a finished one is not run again." };
        var command = new Command("evaluate", "Evaluate on FLARE tasks (greedy generation, PIXIU's parsing and metrics), or re-score saved predictions with --predictions.");
        model.AddTo(command);
        foreach (var o in new Option[] { tasks, data, output, limit, batch, maxNew, mode, system, maxLength, predictions, overwrite, resume }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var outDir = parse.GetValue(output)!;
            SortedDictionary<string, SortedDictionary<string, double>> metrics;
            Dictionary<string, int> counts;
            bool resuming = parse.GetValue(resume);
            if (parse.GetValue(predictions) is { } predPath)
            {
                if (resuming) throw new FinQLoraException("--resume continues an evaluation with a model; re-scoring (--predictions) has nothing to resume: leave --resume out", EvaluationFolder.ExitCode);
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
                var manifest = EvaluationManifest.For(settings, model.Describe(parse));
                // before the model loads: a refusal costs nothing
                if (resuming && parse.GetValue(overwrite))
                    throw new FinQLoraException("--resume and --overwrite contradict each other: --resume keeps the finished rows in --output, --overwrite starts again; pass one", EvaluationFolder.ExitCode);
                if (resuming && CheckResume(outDir, manifest) == EvaluationFolder.State.Finished)
                {
                    Console.Error.WriteLine($"{outDir}: this evaluation is finished (metrics.json is written); nothing to run");
                    Console.Write(FinQLora.IO.InputFile.ReadText(Path.Combine(outDir, EvaluationFolder.Summary), 1 << 24));
                    Console.WriteLine($"wrote {Path.GetFullPath(outDir)}");
                    return 0;
                }
                if (!resuming) EvaluationFolder.Prepare(outDir, parse.GetValue(overwrite));
                using var bundle = model.Load(parse);
                List<Prediction> all;
                using (var store = EvaluationFolder.Begin(outDir, manifest, resuming, msg => Console.Error.WriteLine(msg))) all = Run(bundle, settings, store);
                (metrics, counts) = EvaluationFolder.Write(outDir, all);
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

    /// <summary>The state of the evaluation --resume continues; refuses (exit 2) a folder with nothing to resume or with other settings.</summary>
    private static EvaluationFolder.State CheckResume(string outDir, EvaluationManifest manifest)
    {
        var state = EvaluationFolder.StateOf(outDir, manifest, out var differences);
        return state switch
        {
            EvaluationFolder.State.None => throw new FinQLoraException(
                $"--resume: {outDir} holds no evaluation to resume (no {EvaluationManifest.FileName}); start it without --resume", EvaluationFolder.ExitCode),
            EvaluationFolder.State.Other => throw new FinQLoraException(
                $"--resume: the evaluation in {outDir} was started with other settings, and resuming it would mix two evaluations. Differences (saved → now): " +
                $"{string.Join("; ", differences)}. Resume with the options it was started with, or start again with --overwrite (or another --output).", EvaluationFolder.ExitCode),
            _ => state,
        };
    }

    /// <summary>
    /// Runs the evaluator with a progress display per task (rows, rate and ETA on the task's own clock), plain lines
    /// (<see cref="EvaluationProgress.Line"/>) when output is redirected.
    /// </summary>
    internal static List<Prediction> Run(Inference.ModelBundle bundle, EvaluationSettings settings, PredictionsLog store)
    {
        if (Console.IsOutputRedirected || Console.IsErrorRedirected)
            return Evaluator.Run(bundle, settings, store, msg => Console.Error.WriteLine(msg), p => Console.Error.WriteLine(p.Line()));
        List<Prediction> result = [];
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn())
            .Start(ctx =>
            {
                var bars = new Dictionary<string, ProgressTask>();
                result = Evaluator.Run(bundle, settings, store, msg => AnsiConsole.MarkupLine(Markup.Escape(PrintableWriter.Escape(msg))), p =>
                {
                    if (!bars.TryGetValue(p.Task, out var bar)) bars[p.Task] = bar = ctx.AddTask(p.Task, maxValue: p.Total);
                    bar.Value = p.Done;
                    bar.Description = Markup.Escape(p.Line());
                });
            });
        return result;
    }
}
