using System.CommandLine;
using System.Text.Json;
using FinQLora.Config;
using FinQLora.Curriculum;
using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora curriculum`: both stages, then evaluation, then the report.</summary>
internal static class CurriculumCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Curriculum config (YAML), e.g. configs/curriculum.yaml or configs/quickstart.yaml. Not needed with --resume DIR: the command the run was started with (DIR/.finqlora-run) gives it." };
        var set = CliOptions.Set();
        var resume = new Option<string?>("--resume")
        {
            Description = "Skip finished stages and resume the unfinished one from its newest checkpoint; --resume DIR takes the config and --set overrides the curriculum in DIR was started with.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier curriculum run in the output folder." };
        var command = new Command("curriculum", "Run the two-stage curriculum (stage 1 complex tasks, stage 2 simple tasks on top), then evaluation and the report.")
            { config, set, resume, overwrite };
        command.SetAction(parse =>
        {
            bool resuming = parse.GetResult(resume) is not null;
            var resumeDir = resuming ? parse.GetValue(resume) : null;
            var configPath = parse.GetValue(config);
            var overrides = (parse.GetValue(set) ?? []).ToList();
            if (configPath is null)
            {
                if (resumeDir is null) throw new FinQLoraException("curriculum needs --config FILE (or --resume DIR to continue a curriculum with the command it was started with)", exitCode: 2);
                (configPath, overrides) = Recorded(resumeDir, overrides);
            }
            if (resumeDir is not null) overrides.Add($"output={resumeDir}");
            ConfigKind.Require(configPath, curriculum: true);
            var cfg = ConfigLoader.LoadCurriculum(configPath, overrides);
            // the whole command, so that .finqlora-run and the resume hint give back the same run (the --set overrides included)
            var started = ShellWords.Join(["finqlora", "curriculum", "--config", Path.GetFullPath(configPath), .. overrides.SelectMany(o => new[] { "--set", o })]);
            var result = CurriculumRunner.Run(cfg, resuming, parse.GetValue(overwrite), started);
            // the report is drawn here, after the curriculum: the drawing code lives outside the core library
            if (result.Finished && cfg.Report)
                ReportCommand.Print(FinQLora.Reports.ReportBuilder.BuildForCurriculum(result.Output, Console.Error.WriteLine),
                    line => Console.Error.WriteLine("report: " + line.TrimStart()));
            Console.WriteLine($"outputs: {Path.GetFullPath(result.Output)}");
            return 0;
        });
        return command;
    }

    /// <summary>The --config and --set of the command DIR's curriculum was started with (its .finqlora-run), then <paramref name="more"/>.</summary>
    private static (string Config, List<string> Overrides) Recorded(string dir, List<string> more)
    {
        var marker = Path.Combine(dir, RunFolder.Marker);
        if (!File.Exists(marker)) throw new FinQLoraException($"--resume {dir}: no {RunFolder.Marker} there (is it a curriculum folder?); pass the curriculum's --config", exitCode: 2);
        string? recorded = null;
        try { recorded = IO.JsonFile.ReadObject(marker)["command"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
        List<string> words;
        try { words = recorded is null ? [] : ShellWords.Split(recorded); }
        catch (FormatException) { words = []; }
        var parsed = words.Count > 2 && words[1] == "curriculum" ? Create().Parse(words.Skip(2).ToList()) : null;
        var configPath = parsed?.GetValue<string?>("--config");
        if (parsed is null || parsed.Errors.Count > 0 || configPath is null)
            throw new FinQLoraException($"--resume {dir}: {marker} does not record a curriculum command with --config (started by another version?); pass the curriculum's --config and --set again", exitCode: 2);
        return (configPath, [.. parsed.GetValue<string[]>("--set") ?? [], .. more]);
    }
}
