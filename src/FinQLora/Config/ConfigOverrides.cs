namespace FinQLora.Config;

/// <summary>
/// `--set key.sub=value` overrides, applied to the config tree before binding and validation, so a
/// bad value is reported exactly like one in the file. The value is read as a YAML flow value:
/// `--set data.tasks=[fpb,ner]` (or `fpb,ner`), `--set training.max_steps=null`.
/// </summary>
public static class ConfigOverrides
{
    public sealed record Override(IReadOnlyList<string> Path, string Key, object? Value);

    public static Override Parse(string spec)
    {
        int eq = spec.IndexOf('=');
        if (eq <= 0) throw new FinQLoraException($"--set {spec}: expected key.sub=value, like --set training.lr=1e-4", exitCode: 2);
        var key = spec[..eq].Trim();
        var parts = key.Split('.');
        if (parts.Any(p => p.Length == 0)) throw new FinQLoraException($"--set {spec}: '{key}' is not a key path like training.lr", exitCode: 2);
        return new Override(parts, key, ConfigYaml.ParseValue(spec[(eq + 1)..], $"--set {key}"));
    }

    /// <summary>Sets the value at the override's path, creating sections on the way (unknown keys are caught by the binder).</summary>
    public static void Apply(ConfigMap root, Override o)
    {
        var map = root;
        for (int i = 0; i < o.Path.Count - 1; i++)
        {
            var part = o.Path[i];
            if (!map.TryGetValue(part, out var next) || next is null or ConfigScalar { IsNull: true })
            {
                next = new ConfigMap();
                map[part] = next;
            }
            map = next as ConfigMap
                ?? throw new FinQLoraException($"--set {o.Key}: '{string.Join('.', o.Path.Take(i + 1))}' is a value, not a section", exitCode: 2);
        }
        map[o.Path[^1]] = ConfigMap.CloneNode(o.Value);
    }
}
