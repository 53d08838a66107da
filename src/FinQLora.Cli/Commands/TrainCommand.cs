using System.CommandLine;
using FinQLora.Config;
using FinQLora.Distributed;
using FinQLora.Runs;
using FinQLora.Training;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora train`: one training stage from a YAML config; several GPUs with --gpus.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "Stage config (YAML), e.g. configs/stage1.yaml. Not needed with --resume DIR: the run's saved config.yaml is used." };
        var set = CliOptions.Set();
        var resume = new Option<string?>("--resume")
        {
            Description = "Continue the run in its output folder (or in DIR) from its newest complete checkpoint, with the config it was started with (DIR/config.yaml; a --config that differs from it is refused).",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after N optimizer steps (overrides training.max_steps)." };
        var initAdapter = new Option<string?>("--init-adapter") { Description = "Start from this adapter (stage 1's): frozen and stacked under the new one, or merged into the base weights with init_adapter_mode: merge (--set init_adapter_mode=merge)." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace an earlier run in the output folder." };
        var dist = new DistributedOptions();
        var command = new Command("train", "Train one stage (QLoRA by default) from a YAML config; checkpoints, resume, metrics.jsonl, TensorBoard.");
        foreach (var o in new Option[] { config, set, resume, maxSteps, initAdapter, overwrite }) command.Options.Add(o);
        dist.AddTo(command);
        command.SetAction(parse =>
        {
            if (dist.ShouldLaunch(parse, out var launch)) return Launcher.Run(launch, Environment.GetCommandLineArgs().Skip(1).ToList());
            var overrides = (parse.GetValue(set) ?? []).ToList();
            bool resuming = parse.GetResult(resume) is not null;
            var resumeDir = resuming ? parse.GetValue(resume) : null;
            if (resumeDir is not null) overrides.Add($"output={resumeDir}");
            // part of the config, so that it is saved in the run's config.yaml and a resume gets it back
            if (parse.GetValue(initAdapter) is { } init) overrides.Add($"init_adapter={init}");
            var configPath = parse.GetValue(config);
            if (configPath is null)
            {
                if (resumeDir is null) throw new FinQLoraException("train needs --config FILE (or --resume DIR to continue a run with its saved config)", exitCode: 2);
                configPath = Path.Combine(resumeDir, RunLayout.ConfigFile);
                if (!File.Exists(configPath)) throw new FinQLoraException($"--resume {resumeDir}: no {RunLayout.ConfigFile} there (is it a FinQLora run folder?); pass the run's --config", exitCode: 2);
            }
            ConfigKind.Require(configPath, curriculum: false);
            var cfg = ConfigLoader.LoadTrain(configPath, overrides);
            var mode = resuming ? RunFolder.Mode.Resume : parse.GetValue(overwrite) ? RunFolder.Mode.Overwrite : RunFolder.Mode.New;
            var gpus = parse.GetValue(dist.Gpus) > 1 ? $" --gpus {parse.GetValue(dist.Gpus)}" : "";
            var started = ShellWords.Join(["finqlora", "train", "--config", Path.GetFullPath(configPath), .. (parse.GetValue(set) ?? []).SelectMany(o => new[] { "--set", o }),
                .. parse.GetValue(initAdapter) is { } ia ? new[] { "--init-adapter", ia } : [], .. parse.GetValue(maxSteps) is { } ms ? new[] { "--max-steps", ms.ToString(System.Globalization.CultureInfo.InvariantCulture) } : []]);
            var result = Trainer.Run(cfg, new TrainOptions(mode, parse.GetValue(maxSteps), started,
                ResumeCommand: $"finqlora train --resume {cfg.Output}{gpus}", ConfigFile: configPath));
            Console.WriteLine(result.Stopped ? $"stopped at step {result.Steps}; outputs in {Path.GetFullPath(result.Output)}" : $"done: {Path.GetFullPath(result.Output)} ({(result.FullModel ? "model" : "adapter")}: {Path.GetFullPath(result.FinalDir)})");
            return 0;
        });
        return command;
    }
}

/// <summary>--gpus, --nnodes, --node-rank, --master-addr, --master-port (as torchrun has).</summary>
internal sealed class DistributedOptions
{
    public readonly Option<int> Gpus = new("--gpus") { Description = "GPUs on this machine: one training process per GPU (data parallel, NCCL).", DefaultValueFactory = _ => 1 };
    public readonly Option<int> Nodes = new("--nnodes") { Description = "Machines taking part.", DefaultValueFactory = _ => 1 };
    public readonly Option<int> NodeRank = new("--node-rank") { Description = "This machine's index (0 = the one at --master-addr).", DefaultValueFactory = _ => 0 };
    public readonly Option<string> MasterAddr = new("--master-addr") { Description = "Address of node 0 (rendezvous).", DefaultValueFactory = _ => "127.0.0.1" };
    public readonly Option<int> MasterPort = new("--master-port") { Description = "TCP port on node 0 for the rendezvous.", DefaultValueFactory = _ => 29500 };

    public void AddTo(Command c)
    {
        foreach (var o in new Option[] { Gpus, Nodes, NodeRank, MasterAddr, MasterPort }) c.Options.Add(o);
    }

    /// <summary>True in the launching process of a multi-GPU run (the children see FINQLORA_WORLD_SIZE).</summary>
    public bool ShouldLaunch(ParseResult parse, out LaunchSettings settings)
    {
        settings = new LaunchSettings(parse.GetValue(Gpus), parse.GetValue(Nodes), parse.GetValue(NodeRank), parse.GetValue(MasterAddr)!, parse.GetValue(MasterPort));
        settings.Validate();
        bool child = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("FINQLORA_WORLD_SIZE"));
        return !child && settings.GpusPerNode * settings.Nodes > 1;
    }
}
