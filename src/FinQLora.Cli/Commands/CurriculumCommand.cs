using System.CommandLine;
using FinQLora.Config;
using FinQLora.Curriculum;
using FinQLora.Training;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora curriculum`: both stages, then evaluation, then the report.</summary>
internal static class CurriculumCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "Curriculum config (YAML), e.g. configs/curriculum.yaml or configs/quickstart.yaml.", Required = true };
        var set = CliOptions.Set();
        var resume = new Option<bool>("--resume") { Description = "Skip finished stages and resume the unfinished one from its newest checkpoint." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier curriculum run in the output folder." };
        var command = new Command("curriculum", "Run the two-stage curriculum (stage 1 complex tasks, stage 2 simple tasks on top), then evaluation and the report.")
            { config, set, resume, overwrite };
        command.SetAction(parse =>
        {
            var cfg = ConfigLoader.LoadCurriculum(parse.GetValue(config)!, parse.GetValue(set) ?? []);
            var result = CurriculumRunner.Run(cfg, parse.GetValue(resume), parse.GetValue(overwrite), "finqlora curriculum --config " + parse.GetValue(config));
            // the report is drawn here, after the curriculum: the drawing code lives outside the core library
            if (result.Finished && cfg.Report)
            {
                var files = FinQLora.Reports.ReportBuilder.BuildForCurriculum(result.Output, Console.Error.WriteLine);
                Console.Error.WriteLine($"report: {Path.GetDirectoryName(files[0])} ({files.Count} files)");
            }
            Console.WriteLine($"outputs: {Path.GetFullPath(result.Output)}");
            return 0;
        });
        return command;
    }
}
