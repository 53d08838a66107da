using System.CommandLine;
using FinQLora.Config;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora config`: load a training or curriculum config with its overrides, validate it, print it resolved.</summary>
internal static class ConfigCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "A training (stage) or curriculum YAML file.", Required = true };
        var set = CliOptions.Set();
        var command = new Command("config", "Validate a config and print it resolved (every key, defaults included); exit code 2 when it is invalid.");
        command.Options.Add(config);
        command.Options.Add(set);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(config)!;
            var overrides = parse.GetValue(set) ?? [];
            object resolved = ConfigLoader.ReadTree(path).ContainsKey("stages")
                ? ConfigLoader.LoadCurriculum(path, overrides)
                : ConfigLoader.LoadTrain(path, overrides);
            Console.Write(ConfigWriter.ToYaml(resolved, $"{path}: valid"));
            return 0;
        });
        return command;
    }
}
