using System.Text.Json.Nodes;
using FinQLora.Training;

namespace FinQLora.Cli;

/// <summary>
/// Warnings when an adapter is used on another base than the one it was trained on, as its finqlora_base.json
/// records it (docs/TRAINING.md): a stage-2 adapter trained stacked on stage 1 given without stage 1 before it,
/// one trained on stage 1 merged into the base given the plain base, one trained on an NF4 base used without
/// --quantize nf4. The command still runs (the user may mean it); the warning says what to add.
/// </summary>
internal static class AdapterBaseWarnings
{
    public static IEnumerable<string> For(string modelDir, IReadOnlyList<string> adapters, string? quantize)
    {
        var given = adapters.Select(Full).ToList();
        for (int i = 0; i < adapters.Count; i++)
        {
            var note = Path.Combine(adapters[i], InitAdapter.NoteFile);
            if (!File.Exists(note)) continue;
            JsonObject? o = null;
            string? unreadable = null;
            try { o = IO.JsonFile.ReadObject(note); }
            catch (Exception e) when (e is FinQLoraException or System.Text.Json.JsonException) { unreadable = e.Message; }
            if (o is null) { yield return $"warning: {note}: unreadable ({unreadable}); the base it needs is not checked"; continue; }
            string? S(string k) => o[k] is JsonValue v && v.TryGetValue<string>(out var s) ? s : null;
            var init = S("init_adapter");
            var mode = S("init_adapter_mode");
            if (init is not null && mode == "stack" && !given.Take(i).Contains(Full(init)))
                yield return $"warning: {adapters[i]} was trained stacked on {init} ({InitAdapter.NoteFile}); alone it is not the trained model: " +
                             $"pass --adapter {init} --adapter {adapters[i]} (see {Path.Combine(adapters[i], InitAdapter.ReadmeFile)})";
            if (init is not null && mode == "merge" && S("base_model") is { } baseModel && Full(baseModel) == Full(modelDir))
                yield return $"warning: {adapters[i]} was trained on {baseModel} with {init} merged into it ({InitAdapter.NoteFile}); on the plain base it is not the trained model: " +
                             $"rebuild that base as {Path.Combine(adapters[i], InitAdapter.ReadmeFile)} says";
            if (quantize is not null && S("base_quantize") == "nf4" && quantize != "nf4" && !IsFourBitCheckpoint(modelDir))
                yield return $"warning: {adapters[i]} was trained on an NF4 base ({InitAdapter.NoteFile}: base_quantize nf4); without --quantize nf4 the base differs from the trained one";
        }
    }

    public static void Print(string modelDir, IReadOnlyList<string> adapters, string? quantize)
    {
        foreach (var w in For(modelDir, adapters, quantize)) Console.Error.WriteLine(CliRunner.Printable(w));
    }

    private static string Full(string path) => Path.GetFullPath(path).TrimEnd('/', '\\');

    /// <summary>A bitsandbytes 4-bit checkpoint (quantization_config in config.json) loads as NF4 without --quantize.</summary>
    private static bool IsFourBitCheckpoint(string modelDir)
    {
        var config = Path.Combine(modelDir, "config.json");
        try { return File.Exists(config) && IO.JsonFile.ReadObject(config).ContainsKey("quantization_config"); }
        catch (Exception e) when (e is FinQLoraException or System.Text.Json.JsonException) { return false; }   // the loader names a bad config.json
    }
}
