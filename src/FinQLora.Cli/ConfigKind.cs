using FinQLora.Config;

namespace FinQLora.Cli;

/// <summary>A curriculum config (with stages:) goes to `curriculum`, a stage config to `train`; the other command says so in one line.</summary>
internal static class ConfigKind
{
    public static void Require(string path, bool curriculum)
    {
        if (!File.Exists(path)) return;   // the loader names a missing file
        bool isCurriculum = ConfigLoader.ReadTree(path).ContainsKey("stages");
        if (isCurriculum == curriculum) return;
        throw curriculum
            ? new FinQLoraException($"{path} is a stage config (no stages: list): train it with finqlora train --config {path}", exitCode: 2)
            : new FinQLoraException($"{path} is a curriculum config (it has stages:): run it with finqlora curriculum --config {path}", exitCode: 2);
    }
}
