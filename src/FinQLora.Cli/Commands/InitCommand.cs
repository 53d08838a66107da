using System.CommandLine;
using FinQLora.Config;

namespace FinQLora.Cli.Commands;

/// <summary>
/// `finqlora init [DIR]`: writes the shipped configs and the bundled samples (<see cref="StarterKit"/>) into a folder
/// to edit, laid out as in a clone, so `cd DIR &amp;&amp; finqlora curriculum --config configs/quickstart.yaml` runs the
/// quickstart from an installed tool.
/// </summary>
internal static class InitCommand
{
    public static Command Create()
    {
        var dir = new Argument<string>("DIR") { Description = "The folder to write configs/ and samples/ into (created if missing).", DefaultValueFactory = _ => "." };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace starter files already in DIR (other files are left alone)." };
        var command = new Command("init", "Write the quickstart, stage and curriculum configs and the bundled FLARE samples into DIR, to edit and run.")
            { dir, overwrite };
        command.SetAction(parse =>
        {
            var target = parse.GetValue(dir)!;
            var existing = StarterKit.ExistingIn(target);
            if (existing.Count > 0 && !parse.GetValue(overwrite))
                throw new FinQLoraException(
                    $"{target} already holds {StarterKit.Describe(existing)}: nothing was written. Pass --overwrite to replace them (other files stay), or choose another folder (finqlora init DIR)", 2);
            var written = StarterKit.WriteTo(target, overwrite: true);
            Console.WriteLine($"wrote {written.Count} files to {Path.GetFullPath(target)}: configs/ (quickstart, stage1, stage2, curriculum, model) and samples/ (small real FLARE extracts, sources and licences in samples/SOURCES.md)");
            Console.WriteLine("next:");
            if (Path.GetFullPath(target) != Path.GetFullPath(".")) Console.WriteLine($"  cd {target}");
            Console.WriteLine($"  finqlora curriculum --config {StarterKit.QuickstartConfig}   # the whole workflow on the tiny random-weight model, on a CPU");
            Console.WriteLine("  finqlora curriculum --config configs/curriculum.yaml   # the paper's curriculum: set model.path in configs/model.yaml and prepare data/ first (finqlora prepare-data)");
            return 0;
        });
        return command;
    }
}
