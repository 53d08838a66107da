using System.CommandLine;
using FinQLora.Cli.Commands;

namespace FinQLora.Cli;

/// <summary>Every `finqlora` subcommand, one file each under Commands/.</summary>
internal static class CommandCatalog
{
    public static IEnumerable<Command> All() =>
    [
        EnvCommand.Create(),
        InitCommand.Create(),
        TokenizeCommand.Create(),
        ScoreCommand.Create(),
        GenerateCommand.Create(),
        BenchCommand.Create(),
        PrepareDataCommand.Create(),
        DataStatsCommand.Create(),
        EvaluateCommand.Create(),
        TrainCommand.Create(),
        CurriculumCommand.Create(),
        ReportCommand.Create(),
        QuantizeCommand.Create(),
        MergeCommand.Create(),
        ParamsCommand.Create(),
        ConfigCommand.Create(),
        ServeCommand.Create(),
        ServeBenchCommand.Create(),
    ];
}
