namespace FinQLora.Config;

/// <summary>
/// The keys on which two resolved configs differ, compared through the YAML <see cref="ConfigWriter"/>
/// writes (every key, one spelling per value), e.g. a run's saved config.yaml (read with
/// <see cref="ConfigLoader.ReadTree(string)"/>) and the config a resume was started with.
/// </summary>
public static class ConfigDiff
{
    /// <summary>"key: saved → now" for each differing key, in the config's order; keys under <paramref name="ignore"/> are not compared.</summary>
    public static IReadOnlyList<string> Between(ConfigMap savedTree, object current, IReadOnlyCollection<string>? ignore = null)
    {
        var saved = Flatten(savedTree);
        var now = Flatten(ConfigYaml.Parse(ConfigWriter.ToYaml(current), "the resolved config"));
        bool Ignored(string key) => ignore is not null && ignore.Any(i => key == i || key.StartsWith(i + ".", StringComparison.Ordinal) || key.StartsWith(i + "[", StringComparison.Ordinal));
        return now.Keys.Concat(saved.Keys.Where(k => !now.ContainsKey(k))).Distinct().Where(k => !Ignored(k))
            .Where(k => saved.GetValueOrDefault(k, "(absent)") != now.GetValueOrDefault(k, "(absent)"))
            .Select(k => $"{k}: {saved.GetValueOrDefault(k, "(absent)")} → {now.GetValueOrDefault(k, "(absent)")}")
            .ToList();
    }

    private static Dictionary<string, string> Flatten(ConfigMap map)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        void Walk(object? node, string path)
        {
            switch (node)
            {
                case ConfigMap m:
                    foreach (var (k, v) in m) Walk(v, path.Length == 0 ? k : $"{path}.{k}");
                    break;
                case System.Collections.IList list:
                    if (list.Count == 0) result[path] = "[]";
                    for (int i = 0; i < list.Count; i++) Walk(list[i], $"{path}[{i}]");
                    break;
                case ConfigScalar s:
                    result[path] = s.IsNull ? "null" : s.Value!;
                    break;
                default:
                    result[path] = node?.ToString() ?? "null";
                    break;
            }
        }
        Walk(map, "");
        return result;
    }
}
