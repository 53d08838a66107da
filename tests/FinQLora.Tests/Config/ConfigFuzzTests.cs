using CsCheck;
using FinQLora.Config;

namespace FinQLora.Tests.Config;

/// <summary>Mutated configs and random overrides end in a config or a FinQLoraException, never another exception or a hang.</summary>
public class ConfigFuzzTests
{
    private static readonly string Stage1 = File.ReadAllText(RepoFiles.Path("configs", "stage1.yaml")).Replace("include: model.yaml", "");

    /// <summary>Cases per property: 300 in the ordinary test run; FINQLORA_FUZZ_ITER=100000 for a long run.</summary>
    private static long Iter => long.TryParse(Environment.GetEnvironmentVariable("FINQLORA_FUZZ_ITER"), out var n) ? n : 300;

    private static void LoadsOrExplains(string yaml, string[] sets)
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "c.yaml");
        File.WriteAllText(path, yaml);
        try { ConfigLoader.LoadTrain(path, sets); }
        catch (FinQLoraException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message)); }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Byte_level_mutations_of_a_shipped_config_never_crash()
    {
        var chars = Gen.Char[" \n:-[]{},#'\"&*!|>%@`0123456789abcdefghijklmnopqrstuvwxyz_."];
        var mutation = Gen.Select(Gen.Int[0, Stage1.Length - 1], Gen.Int[0, 3], chars, Gen.Int[1, 40]);
        mutation.Array[1, 4].Sample(ms =>
        {
            var text = Stage1;
            foreach (var (pos, kind, ch, len) in ms)
            {
                int p = Math.Min(pos, text.Length - 1);
                text = kind switch
                {
                    0 => text.Remove(p, Math.Min(len, text.Length - p)),          // delete a run
                    1 => text.Insert(p, new string(ch, len % 5 + 1)),              // insert characters
                    2 => text[..p] + ch + text[(p + 1)..],                         // replace one
                    _ => text.Insert(p, text.Substring(p / 2, Math.Min(len, text.Length - p / 2))),  // duplicate a slice
                };
            }
            LoadsOrExplains(text, []);
        }, iter: Iter);
    }

    [Fact]
    public void Random_overrides_never_crash()
    {
        var keys = ConfigBinder.AllKeyPaths(typeof(TrainConfig)).Concat(["lora", "training.lr.x", "x.y", "lora.targets.0", "stages.0.x"]).ToArray();
        string[] choices = ["0", "-1", "1e400", "nan", "abc", "[", "[1, 2]", "{a: 1}", "null", "~", "\"quoted\"", "'", "true", "", "q_proj,v_proj", "9999999999999"];
        var values = Gen.Int[0, choices.Length - 1].Select(i => choices[i]);
        Gen.Select(Gen.Int[0, keys.Length - 1], values).Array[1, 3].Sample(sets =>
            LoadsOrExplains("data: { tasks: [fpb] }\n", sets.Select(s => $"{keys[s.Item1]}={s.Item2}").ToArray()), iter: Iter);
    }
}
