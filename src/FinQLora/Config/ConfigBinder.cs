using System.Globalization;
using System.Reflection;
using System.Text;

namespace FinQLora.Config;

/// <summary>
/// Binds a <see cref="ConfigMap"/> tree to the config records by reflection: YAML key = snake_case of
/// the property name; a missing key keeps the property's initial value (the default). Every problem
/// is collected with its full key ("training.lr: expected a number, got 'abc' (stage1.yaml:14)"),
/// unknown keys with a did-you-mean.
/// </summary>
public static class ConfigBinder
{

    public static T Bind<T>(ConfigMap map, string prefix, List<string> errors) where T : new() =>
        (T)BindRecord(typeof(T), map, prefix, errors, skipKeys: null);

    /// <summary>Binds, ignoring <paramref name="skipKeys"/> (handled by the caller).</summary>
    public static T Bind<T>(ConfigMap map, string prefix, List<string> errors, IReadOnlySet<string> skipKeys) where T : new() =>
        (T)BindRecord(typeof(T), map, prefix, errors, skipKeys);

    /// <summary>The settable config properties of a record type, by YAML key, in declaration order.</summary>
    public static IReadOnlyList<(string Key, PropertyInfo Property)> Keys(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true } && p.GetIndexParameters().Length == 0)
            .OrderBy(p => p.MetadataToken)
            .Select(p => (SnakeCase(p.Name), p)).ToList();

    /// <summary>Every key path of a record type, nested sections included ("training.lr").</summary>
    public static IEnumerable<string> AllKeyPaths(Type type, string prefix = "")
    {
        foreach (var (key, p) in Keys(type))
        {
            var path = prefix + key;
            if (IsSection(p.PropertyType)) foreach (var sub in AllKeyPaths(p.PropertyType, path + ".")) yield return sub;
            else yield return path;
        }
    }

    public static bool IsSection(Type t) => t.IsClass && t != typeof(string) && t.Namespace == typeof(ConfigBinder).Namespace && t.GetConstructor(Type.EmptyTypes) is not null;

    public static string SnakeCase(string name)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0) sb.Append('_');
            sb.Append(char.ToLowerInvariant(name[i]));
        }
        return sb.ToString();
    }

    private static object BindRecord(Type type, ConfigMap map, string prefix, List<string> errors, IReadOnlySet<string>? skipKeys)
    {
        var result = Activator.CreateInstance(type)!;
        var keys = Keys(type).ToDictionary(k => k.Key, k => k.Property);
        foreach (var (key, node) in map)
        {
            if (skipKeys?.Contains(key) == true) continue;
            var path = prefix + key;
            if (!keys.TryGetValue(key, out var property))
            {
                errors.Add($"unknown key '{path}'{DidYouMean.Suggest(key, keys.Keys, prefix)}{SourceOf(node)}");
                continue;
            }
            if (TryConvert(property.PropertyType, IsNullable(property), node, path, errors, out var value))
                property.SetValue(result, value);
        }
        return result;
    }

    // a fresh NullabilityInfoContext per call: the class caches without locking, and configs may be bound on several threads
    private static bool IsNullable(PropertyInfo p) =>
        Nullable.GetUnderlyingType(p.PropertyType) is not null || new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable;

    private static bool TryConvert(Type type, bool nullable, object? node, string path, List<string> errors, out object? value)
    {
        value = null;
        if (node is null || node is ConfigScalar { IsNull: true })
        {
            if (nullable) return true;
            errors.Add($"{path}: must not be null; expected {Describe(type)}{SourceOf(node)}");
            return false;
        }
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (IsSection(underlying))
        {
            if (node is ConfigMap m) { value = BindRecord(underlying, m, path + ".", errors, null); return true; }
            errors.Add($"{path}: expected a section of keys, got {Show(node)}{SourceOf(node)}");
            return false;
        }
        if (underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            var element = underlying.GetGenericArguments()[0];
            List<object?> items;
            if (node is List<object?> l) items = l;
            else if (node is ConfigScalar s)  // "a,b" (handy with --set) or a single value
                items = s.Value!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => (object?)new ConfigScalar(v, s.Quoted, s.Source)).ToList();
            else { errors.Add($"{path}: expected a list, got a section{SourceOf(node)}"); return false; }
            var array = Array.CreateInstance(element, items.Count);
            bool ok = true;
            for (int i = 0; i < items.Count; i++)
            {
                if (TryConvert(element, false, items[i], $"{path}[{i}]", errors, out var item)) array.SetValue(item, i);
                else ok = false;
            }
            value = array;
            return ok;
        }
        if (node is not ConfigScalar scalar)
        {
            errors.Add($"{path}: expected {Describe(underlying)}, got a {(node is ConfigMap ? "section" : "list")}{SourceOf(node)}");
            return false;
        }
        var text = scalar.Value ?? "";
        var inv = CultureInfo.InvariantCulture;
        bool parsed;
        if (underlying == typeof(string)) { value = text; parsed = true; }
        else if (underlying == typeof(int)) { parsed = int.TryParse(text, NumberStyles.Integer, inv, out var v); value = v; }
        else if (underlying == typeof(long)) { parsed = long.TryParse(text, NumberStyles.Integer, inv, out var v); value = v; }
        else if (underlying == typeof(double))
        {
            parsed = double.TryParse(text, NumberStyles.Float, inv, out var v) && double.IsFinite(v);
            value = v;
        }
        else if (underlying == typeof(bool))
        {
            bool? b = text.ToLowerInvariant() switch { "true" or "yes" or "on" => true, "false" or "no" or "off" => false, _ => null };
            parsed = b.HasValue;
            value = b ?? false;
        }
        else if (underlying.IsEnum)
        {
            var match = Enum.GetNames(underlying).FirstOrDefault(n => SnakeCase(n) == text.ToLowerInvariant() || n.Equals(text, StringComparison.OrdinalIgnoreCase));
            parsed = match is not null;
            value = match is null ? null : Enum.Parse(underlying, match);
        }
        else throw new InvalidOperationException($"config binder: unsupported property type {underlying} at {path}");
        if (!parsed) errors.Add($"{path}: expected {Describe(underlying)}, got '{text}'{SourceOf(node)}");
        return parsed;
    }

    public static string Describe(Type t)
    {
        t = Nullable.GetUnderlyingType(t) ?? t;
        if (t == typeof(int) || t == typeof(long)) return "an integer";
        if (t == typeof(double)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string)) return "a string";
        if (t.IsEnum) return "one of " + string.Join(", ", Enum.GetNames(t).Select(SnakeCase));
        if (t.IsGenericType) return "a list of " + Describe(t.GetGenericArguments()[0]).Replace("an ", "").Replace("a ", "") + "s";
        return "a section";
    }

    private static string Show(object? node) => node switch { ConfigScalar s => $"'{s.Value}'", List<object?> => "a list", _ => "a section" };

    internal static string SourceOf(object? node) => node switch
    {
        ConfigScalar s => $" ({s.Source})",
        List<object?> { Count: > 0 } l => SourceOf(l[0]),
        ConfigMap m when m.Count > 0 => SourceOf(m.GetAt(0).Value),
        _ => "",
    };
}
