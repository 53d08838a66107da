using System.Text;
using System.Text.Json.Nodes;
using CsCheck;

namespace FinQLora.Tests.Fuzz;

/// <summary>One edit of an input: what to do (<see cref="Kind"/>), where (<see cref="Position"/>, taken modulo the size), with what.</summary>
internal readonly record struct Mutation(int Kind, int Position, int Value, int Snippet);

/// <summary>
/// The mutation fuzzer's edits, as CsCheck generators (so a failing case shrinks and its seed replays):
/// byte edits (bit flips, special bytes, deletions, insertions, duplicated slices, truncation) and JSON
/// structure edits (a node replaced by an edge value, removed, renamed, duplicated elsewhere, wrapped in
/// an array) on a valid seed document.
/// </summary>
internal static class Mutations
{
    /// <summary>JSON values that break parsers: numbers at and past int/long/double limits, odd strings, empty and deep containers.</summary>
    public static readonly string[] Snippets =
    [
        "null", "true", "false", "0", "-1", "1", "2", "3", "255", "65536", "2147483647", "2147483648", "-2147483649",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "18446744073709551616", "1e308", "1e999", "-1e999",
        "0.5", "1.0", "-0.0", "1e-400", "4.9e-324", "\"\"", "\"a\"", "\" \"", "\"F32\"", "\"BF16\"", "\"U8\"", "\"F8_E4M3\"", "\"LORA\"", "\"llama\"",
        "\"llama3\"", "\"default\"", "\"q_proj\"", "\"all-linear\"", "\"BPE\"", "\"../x\"", "\"/etc/passwd\"", "\"\\u0000\"", "\"\\ud800\"",
        "\"[\"", "\"['a', 'b']\"", "\"['a\"", "\"a b\"", "[]", "{}", "[0]", "[1,2]", "[0,0]", "[-1]", "[0,9223372036854775807]", "[\"a\"]", "[\"a\",\"b\"]",
        "[null]", "{\"a\":1}", "{\"\":null}", "[[[[[[[[[[]]]]]]]]]]", "[" + string.Join(",", Enumerable.Repeat("65536", 64)) + "]",
        "\"" + new string('x', 5000) + "\"",
    ];

    private static readonly byte[] SpecialBytes = "\0\"{}[],:-.0e9\\\n\r \xff\x80\x7f"u8.ToArray();

    /// <summary>1 to <paramref name="max"/> edits.</summary>
    public static Gen<Mutation[]> Gen(int max) =>
        CsCheck.Gen.Select(CsCheck.Gen.Int[0, 9], CsCheck.Gen.Int[0, 1 << 20], CsCheck.Gen.Int[0, 255], CsCheck.Gen.Int[0, Snippets.Length - 1])
            .Select((k, p, v, s) => new Mutation(k, p, v, s)).Array[1, max];

    /// <summary>Byte-level edits of <paramref name="seed"/>.</summary>
    public static byte[] ApplyBytes(byte[] seed, IEnumerable<Mutation> edits)
    {
        var b = new List<byte>(seed);
        foreach (var m in edits)
        {
            int p = b.Count == 0 ? 0 : m.Position % b.Count;
            int len = 1 + m.Value % 32;
            switch (m.Kind)
            {
                case 0 when b.Count > 0: b[p] ^= (byte)(1 << (m.Value % 8)); break;                           // flip a bit
                case 1 when b.Count > 0: b[p] = SpecialBytes[m.Value % SpecialBytes.Length]; break;         // a byte parsers care about
                case 2 when b.Count > 0: b[p] = (byte)m.Value; break;                                         // any byte
                case 3: b.RemoveRange(p, Math.Min(len, b.Count - p)); break;                                  // delete a run
                case 4: b.InsertRange(p, Encoding.UTF8.GetBytes(Snippets[m.Snippet])); break;                 // insert a JSON value
                case 5: b.InsertRange(p, Enumerable.Repeat(SpecialBytes[m.Value % SpecialBytes.Length], len)); break;
                case 6 when b.Count > 0: b.InsertRange(p, b.GetRange(p / 2, Math.Min(len * 8, b.Count - p / 2))); break;   // duplicate a slice
                case 7: b.RemoveRange(p, b.Count - p); break;                                                 // truncate
                case 8 when b.Count > 0: b[p] = (byte)(b[p] + (m.Value % 2 == 0 ? 1 : -1)); break;            // off by one
                default: if (b.Count > 0) b[p] = (byte)'0'; break;
            }
        }
        return b.ToArray();
    }

    /// <summary>Structure edits of a JSON document (kept valid JSON, mostly): each picks a node by position.</summary>
    public static string ApplyJson(string seed, IEnumerable<Mutation> edits)
    {
        var root = JsonNode.Parse(seed)!;
        var keys = Nodes(root).Select(n => n.Parent is JsonObject ? n.GetPropertyName() : null).OfType<string>().Distinct().ToList();
        keys.AddRange(["", "__metadata__", "x", "a\u0000b"]);
        foreach (var m in edits)
        {
            var nodes = Nodes(root).ToList();
            if (nodes.Count == 0) break;
            var node = nodes[m.Position % nodes.Count];
            var parent = node.Parent!;
            switch (m.Kind % 6)
            {
                case 0: Replace(parent, node, Snippet(m.Snippet)); break;
                case 1: Remove(parent, node); break;
                case 2 when parent is JsonObject o:                                                            // rename a key
                    var key = keys[m.Value % keys.Count];
                    o.Remove(node.GetPropertyName());
                    o[key] = node;
                    break;
                case 3:                                                                                        // copy a subtree elsewhere
                    var containers = nodes.Where(n => n is JsonObject or JsonArray).Prepend(root).ToList();
                    var into = containers[m.Value % containers.Count];
                    if (into is JsonObject io) io[keys[m.Snippet % keys.Count]] = node.DeepClone();
                    else if (into is JsonArray ia) ia.Add(node.DeepClone());
                    break;
                case 4: Replace(parent, node, new JsonArray(node.DeepClone())); break;                          // wrap in a list
                default:                                                                                      // a number nearby
                    if (node is JsonValue v && v.TryGetValue<long>(out var l)) Replace(parent, node, JsonValue.Create(unchecked(l + (m.Value % 5) - 2) * (m.Value % 7 == 0 ? -1 : 1)));
                    else Replace(parent, node, Snippet(m.Snippet));
                    break;
            }
        }
        return root.ToJsonString();
    }

    // An unpaired surrogate escape cannot live in a node tree (writing it throws): byte edits insert that one as text.
    private static JsonNode? Snippet(int i) => Snippets[i] == "\"\\ud800\"" ? JsonValue.Create("\ufffd") : JsonNode.Parse(Snippets[i]);

    private static IEnumerable<JsonNode> Nodes(JsonNode root)
    {
        var stack = new Stack<JsonNode>([root]);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!ReferenceEquals(n, root)) yield return n;
            if (n is JsonObject o) foreach (var (_, child) in o) { if (child is not null) stack.Push(child); }
            else if (n is JsonArray a) foreach (var child in a) { if (child is not null) stack.Push(child); }
        }
    }

    private static void Replace(JsonNode parent, JsonNode node, JsonNode? with)
    {
        if (parent is JsonObject o) o[node.GetPropertyName()] = with;
        else if (parent is JsonArray a) a[node.GetElementIndex()] = with;
    }

    private static void Remove(JsonNode parent, JsonNode node)
    {
        if (parent is JsonObject o) o.Remove(node.GetPropertyName());
        else if (parent is JsonArray a) a.RemoveAt(node.GetElementIndex());
    }

    /// <summary>A JSON seed mutated: structure edits, then (sometimes) byte edits of the text.</summary>
    public static Gen<byte[]> JsonDocument(string seed) =>
        CsCheck.Gen.Select(Gen(4), Gen(3), CsCheck.Gen.Int[0, 3]).Select((structure, bytes, mode) =>
        {
            var text = mode == 0 ? seed : ApplyJson(seed, structure);
            var utf8 = Encoding.UTF8.GetBytes(text);
            return mode is 0 or 3 ? ApplyBytes(utf8, bytes) : utf8;
        });
}
