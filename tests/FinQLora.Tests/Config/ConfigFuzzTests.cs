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

/// <summary>
/// Configs built to exhaust memory or the stack: nested anchors (a few hundred bytes naming billions of
/// nodes) and deep nesting (block or flow), through a file, a `--set` value and a run folder's config.yaml.
/// Each is refused in bounded time with a one-line message.
/// </summary>
public class HostileConfigTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Levels of anchors, each a list of <paramref name="width"/> aliases of the one before (a "billion laughs").</summary>
    private static string Laughs(int levels, int width, string key)
    {
        var lines = new List<string> { $"{key}0: &a0 [{string.Join(", ", Enumerable.Repeat("lol", width))}]" };
        for (int l = 1; l < levels; l++) lines.Add($"{key}{l}: &a{l} [{string.Join(", ", Enumerable.Repeat($"*a{l - 1}", width))}]");
        return string.Join("\n", lines) + "\n";
    }

    private static string Nested(int depth, int style) => style switch
    {
        0 => string.Concat(Enumerable.Range(0, depth).Select(i => new string(' ', 2 * i) + "-\n")),           // block lists
        1 => string.Concat(Enumerable.Range(0, depth).Select(i => new string(' ', i) + $"k{i}:\n")) + new string(' ', depth) + "x: 1\n",  // block mappings
        2 => "a: " + new string('[', depth) + new string(']', depth) + "\n",                                   // flow lists
        _ => "a: " + string.Concat(Enumerable.Repeat("{b: ", depth)) + "1" + new string('}', depth) + "\n",   // flow mappings
    };

    private static FinQLoraException RefusedInTime(Action load)
    {
        FinQLoraException? error = null;
        Exception? other = null;
        var task = Task.Run(() =>
        {
            try { load(); }
            catch (FinQLoraException e) { error = e; }
            catch (Exception e) { other = e; }
        });
        Assert.True(task.Wait(Bound), "the load ran past its bound (alias expansion or deep recursion)");
        Assert.Null(other);
        Assert.NotNull(error);
        Assert.DoesNotContain('\n', error!.Message);
        return error;
    }

    private static void InEveryDoor(string yaml, string expected)
    {
        var dir = Fixtures.TempDir();
        try
        {
            var path = Path.Combine(dir, "c.yaml");
            File.WriteAllText(path, yaml);
            Assert.Contains(expected, RefusedInTime(() => ConfigLoader.LoadTrain(path)).Message);
            Assert.Contains(expected, RefusedInTime(() => ConfigLoader.ReadTree(path)).Message);   // how resume reads a run's config.yaml
            File.WriteAllText(path, "data: { tasks: [fpb] }\n");
            // the same shape as one --set flow value
            var flow = "{" + string.Join(", ", yaml.Trim().Split('\n').Select(l => l.Trim())) + "}";
            if (yaml.Contains('&')) Assert.Contains(expected, RefusedInTime(() => ConfigLoader.LoadTrain(path, [$"training.x={flow}"])).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Nested_anchors_are_refused_in_every_door()
    {
        Gen.Select(Gen.Int[2, 12], Gen.Int[2, 12], Gen.String[Gen.Char['a', 'z'], 1, 6]).Sample((levels, width, key) =>
            InEveryDoor(Laughs(levels, width, key), "YAML aliases"), iter: 40);
    }

    [Fact]
    public void Deep_nesting_is_refused_in_every_door()
    {
        Gen.Select(Gen.Int[ConfigYaml.MaxDepth + 1, 20_000], Gen.Int[0, 3]).Sample((depth, style) =>
        {
            if (style < 2) depth = Math.Min(depth, 900);   // block indentation grows as depth^2 bytes: stay under the size cap
            InEveryDoor(Nested(depth, style), "nested more than");
        }, iter: 20);
        Assert.Contains("nested more than", RefusedInTime(() => ConfigYaml.ParseValue(new string('[', 15_000), "--set x")).Message);
    }

    [Fact]
    public void Nesting_within_the_bound_still_loads()
    {
        var tree = ConfigYaml.Parse(Nested(ConfigYaml.MaxDepth - 1, 2), "c.yaml");
        Assert.True(tree.ContainsKey("a"));
    }
}
