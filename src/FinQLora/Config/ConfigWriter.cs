using System.Collections;
using System.Globalization;
using FinQLora.IO;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace FinQLora.Config;

/// <summary>
/// Writes a config record as YAML with every key, defaults included: the resolved config saved beside
/// a run, which loads back to an equal config (`finqlora train --config RUN/config.yaml`).
/// </summary>
public static class ConfigWriter
{
    public static string ToYaml(object record, string? headerComment = null)
    {
        var doc = new YamlDocument(ToNode(record));
        var stream = new YamlStream(doc);
        using var writer = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();
        if (text.EndsWith("...\n", StringComparison.Ordinal)) text = text[..^4];
        var header = headerComment is null ? "" : string.Concat(headerComment.Split('\n').Select(l => "# " + l + "\n"));
        return header + text;
    }

    /// <summary>Writes the resolved config atomically to <paramref name="path"/>.</summary>
    public static void Write(string path, object record, string? headerComment = null) =>
        AtomicFile.WriteAllText(path, ToYaml(record, headerComment));

    private static YamlNode ToNode(object? value)
    {
        switch (value)
        {
            case null: return Plain("null");
            case string s: return Str(s);
            case bool b: return Plain(b ? "true" : "false");
            case double d: return Plain(d.ToString("R", CultureInfo.InvariantCulture));
            case int or long: return Plain(Convert.ToString(value, CultureInfo.InvariantCulture)!);
            case Enum en: return Plain(ConfigBinder.SnakeCase(en.ToString()));
            case IEnumerable list when value is not string:
                var seq = new YamlSequenceNode { Style = SequenceStyle.Flow };
                foreach (var item in list)
                {
                    if (item is not null && ConfigBinder.IsSection(item.GetType())) seq.Style = SequenceStyle.Block;
                    seq.Add(ToNode(item));
                }
                return seq;
            default:
                var map = new YamlMappingNode();
                foreach (var (key, p) in ConfigBinder.Keys(value.GetType())) map.Add(Plain(key), ToNode(p.GetValue(value)));
                return map;
        }
    }

    private static YamlScalarNode Plain(string s) => new(s) { Style = ScalarStyle.Plain };

    private static YamlScalarNode Str(string s)
    {
        bool plainSafe = s.Length > 0 && !s.Contains('\n') && s.Trim() == s
            && s.All(ch => char.IsLetterOrDigit(ch) || ch is '_' or '-' or '.' or '/' or '@' or ' ')
            && !"-.@ ".Contains(s[0]) && !(char.IsDigit(s[0])) && s is not ("null" or "true" or "false" or "yes" or "no" or "on" or "off" or "~");
        return new YamlScalarNode(s) { Style = plainSafe ? ScalarStyle.Plain : ScalarStyle.DoubleQuoted };
    }
}
