using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace FinQLora.Config;

/// <summary>A scalar as written, with where it came from ("stage1.yaml:12" or "--set").</summary>
public sealed record ConfigScalar(string? Value, bool Quoted, string Source)
{
    /// <summary>YAML's null: ~, null, Null, NULL or nothing, unless quoted.</summary>
    public bool IsNull => !Quoted && (Value is null or "" or "~" or "null" or "Null" or "NULL");
}

/// <summary>
/// The untyped configuration tree between the YAML text and the records: mappings are
/// <see cref="ConfigMap"/> (insertion-ordered), sequences are <see cref="List{T}"/> of nodes, leaves are
/// <see cref="ConfigScalar"/>. Includes are merged and `--set` overrides applied on this tree, so
/// both go through the same typed binding and validation as the file itself.
/// </summary>
public sealed class ConfigMap : OrderedDictionary<string, object?>
{
    public ConfigMap() : base(StringComparer.Ordinal) { }

    /// <summary>A deep copy.</summary>
    public ConfigMap Clone()
    {
        var copy = new ConfigMap();
        foreach (var (k, v) in this) copy[k] = CloneNode(v);
        return copy;
    }

    public static object? CloneNode(object? node) => node switch
    {
        ConfigMap m => m.Clone(),
        List<object?> l => l.Select(CloneNode).ToList(),
        _ => node,
    };

    /// <summary>Merges <paramref name="over"/> into this map: mappings merge key by key, anything else replaces.</summary>
    public void MergeFrom(ConfigMap over)
    {
        foreach (var (k, v) in over)
        {
            if (v is ConfigMap m && TryGetValue(k, out var mine) && mine is ConfigMap mineMap) mineMap.MergeFrom(m);
            else this[k] = CloneNode(v);
        }
    }
}

/// <summary>Reads YAML text into the <see cref="ConfigMap"/> tree, with file:line in every error.</summary>
public static class ConfigYaml
{
    public const int MaxChars = 1 << 20;

    /// <summary>The deepest nesting of lists and mappings (block or flow) a config may have; real ones use 3.</summary>
    public const int MaxDepth = 64;

    /// <summary>The error for a config over <see cref="MaxChars"/> (characters of text, or bytes of a file: a file under the cap in bytes is under it in characters).</summary>
    public static FinQLoraException TooLarge(string sourceName, long size) =>
        new($"{sourceName}: a config file must be under {MaxChars / 1024} KiB, this one has {size / 1024} KiB", exitCode: 2);

    public static ConfigMap Parse(string text, string sourceName)
    {
        if (text.Length > MaxChars) throw TooLarge(sourceName, text.Length);
        var stream = new YamlStream();
        try
        {
            CheckShape(text, sourceName);
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            var inner = e.InnerException?.Message is { } im ? $" ({im})" : "";
            throw new FinQLoraException($"{sourceName}:{e.Start.Line}:{e.Start.Column}: invalid YAML: {e.Message}{inner}", exitCode: 2);
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            // YamlDotNet's scanner throws these on some malformed inputs (found by the fuzz tests)
            throw new FinQLoraException($"{sourceName}: invalid YAML ({e.Message})", exitCode: 2);
        }
        if (stream.Documents.Count == 0) return new ConfigMap();
        if (stream.Documents.Count > 1) throw new FinQLoraException($"{sourceName}: expected one YAML document, found {stream.Documents.Count}", exitCode: 2);
        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode s && string.IsNullOrEmpty(s.Value)) return new ConfigMap();
        return Convert(root, sourceName, "") as ConfigMap
            ?? throw new FinQLoraException($"{sourceName}: the top level must be a mapping of keys (like 'training:'), got a {Kind(root)}", exitCode: 2);
    }

    /// <summary>Parses the value of a `--set key=value` as a YAML flow value ("[a, b]" is a list, "null" is null).</summary>
    public static object? ParseValue(string value, string source)
    {
        if (value.Length == 0) return new ConfigScalar("", true, source);
        // only flow collections and quoted strings are read as YAML; anything else is the text itself
        // (so "--set data.system_prompt=You are: an analyst" needs no quoting)
        if (value[0] is not ('[' or '{' or '"' or '\'')) return new ConfigScalar(value, false, source);
        if (value.Length > MaxChars) throw TooLarge(source, value.Length);
        var stream = new YamlStream();
        try
        {
            CheckShape(value, source);
            stream.Load(new StringReader(value));
        }
        catch (Exception e) when (e is YamlException or InvalidOperationException or ArgumentException or FormatException or OverflowException)
        {
            return new ConfigScalar(value, true, source);  // not YAML: take the text as it is
        }
        return stream.Documents.Count == 1 ? Convert(stream.Documents[0].RootNode, source, null) : new ConfigScalar(value, true, source);
    }

    private static object? Convert(YamlNode node, string sourceName, string? lineSuffix)
    {
        string Where(YamlNode n) => lineSuffix is null ? sourceName : $"{sourceName}:{n.Start.Line}";
        switch (node)
        {
            case YamlScalarNode s:
                return new ConfigScalar(s.Value, s.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded, Where(s));
            case YamlSequenceNode seq:
                return seq.Children.Select(c => Convert(c, sourceName, lineSuffix)).ToList();
            case YamlMappingNode map:
                var result = new ConfigMap();
                foreach (var (k, v) in map.Children)
                {
                    if (k is not YamlScalarNode key || key.Value is null)
                        throw new FinQLoraException($"{Where(k)}: mapping keys must be plain names", exitCode: 2);
                    if (result.ContainsKey(key.Value))
                        throw new FinQLoraException($"{Where(k)}: key '{key.Value}' appears twice", exitCode: 2);
                    result[key.Value] = Convert(v, sourceName, lineSuffix);
                }
                return result;
            default:
                throw new FinQLoraException($"{Where(node)}: YAML aliases and tags are not supported here", exitCode: 2);
        }
    }

    /// <summary>
    /// Walks the parser's events (YamlDotNet's parser keeps an explicit stack, so this cannot overflow) before
    /// any tree is built: aliases are refused, because the tree would repeat the anchored node at every use
    /// (nine nested anchors of nine items expand a 300-byte file into 9^9 nodes), and nesting is bounded,
    /// because building and converting the tree recurse once per level (15,000 levels overflow the stack).
    /// </summary>
    private static void CheckShape(string text, string source)
    {
        var parser = new Parser(new StringReader(text));
        int depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case AnchorAlias a:
                    throw new FinQLoraException($"{source}:{a.Start.Line}: YAML aliases (*{a.Value}) are not supported: write the value out", exitCode: 2);
                case MappingStart or SequenceStart:
                    if (++depth > MaxDepth)
                        throw new FinQLoraException($"{source}:{parser.Current.Start.Line}: lists and mappings nested more than {MaxDepth} deep", exitCode: 2);
                    break;
                case MappingEnd or SequenceEnd: depth--; break;
            }
        }
    }

    private static string Kind(YamlNode n) => n switch { YamlSequenceNode => "list", YamlScalarNode => "single value", _ => "node" };
}
