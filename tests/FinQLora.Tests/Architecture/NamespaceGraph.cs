using Mono.Cecil;
using Mono.Cecil.Cil;

namespace FinQLora.Tests.Architecture;

/// <summary>
/// Which namespaces of an assembly use which, read from its IL with Mono.Cecil: base types, interfaces, attributes,
/// fields, properties, signatures, locals, and every type, method and field an instruction names (generic arguments
/// and element types included). Namespaces are compared by their first segment under the root
/// (<c>FinQLora.Data.Originals</c> counts as <c>Data</c>); the root namespace itself is <c>""</c>.
/// </summary>
internal sealed class NamespaceGraph
{
    private readonly Dictionary<string, Dictionary<string, string>> _edges = [];   // from -> to -> an example "A -> B"

    public IReadOnlyCollection<string> Namespaces => _edges.Keys;

    public IEnumerable<string> Targets(string from) => _edges.TryGetValue(from, out var to) ? to.Keys : [];

    /// <summary>An example of the edge: "Type -> Type" (null when there is no such edge).</summary>
    public string? Example(string from, string to) => _edges.TryGetValue(from, out var t) && t.TryGetValue(to, out var e) ? e : null;

    public void Add(string from, string to, string example)
    {
        if (!_edges.TryGetValue(from, out var targets)) _edges[from] = targets = [];
        if (!_edges.ContainsKey(to)) _edges[to] = [];
        if (from != to) targets.TryAdd(to, example);
    }

    public static NamespaceGraph Of(string assemblyPath, string root)
    {
        var graph = new NamespaceGraph();
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        foreach (var type in module.GetTypes())
        {
            var from = Key(type, root);
            if (from is null) continue;
            foreach (var used in Uses(type).OfType<TypeReference>())   // (a signature may lack a part: skipped)
                foreach (var t in Expand(used))
                    if (Key(t, root) is { } to) graph.Add(from, to, $"{type.FullName} -> {t.FullName}");
        }
        return graph;
    }

    /// <summary>The strongly connected components of more than one namespace: each is a cycle (Tarjan).</summary>
    public List<List<string>> Cycles()
    {
        var index = new Dictionary<string, int>();
        var low = new Dictionary<string, int>();
        var stack = new Stack<string>();
        var onStack = new HashSet<string>();
        var cycles = new List<List<string>>();
        void Visit(string v)
        {
            index[v] = low[v] = index.Count;
            stack.Push(v);
            onStack.Add(v);
            foreach (var w in Targets(v))
            {
                if (!index.ContainsKey(w)) { Visit(w); low[v] = Math.Min(low[v], low[w]); }
                else if (onStack.Contains(w)) low[v] = Math.Min(low[v], index[w]);
            }
            if (low[v] != index[v]) return;
            var component = new List<string>();
            string x;
            do { x = stack.Pop(); onStack.Remove(x); component.Add(x); } while (x != v);
            if (component.Count > 1) cycles.Add(component);
        }
        foreach (var v in Namespaces.Order(StringComparer.Ordinal).ToList())
            if (!index.ContainsKey(v)) Visit(v);
        return cycles;
    }

    private static string? Key(TypeReference type, string root)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        var ns = type.Namespace;
        if (ns == root) return "";
        if (!ns.StartsWith(root + ".", StringComparison.Ordinal)) return null;
        return ns[(root.Length + 1)..].Split('.')[0];
    }

    private static IEnumerable<TypeReference?> Uses(TypeDefinition type)
    {
        if (type.BaseType is not null) yield return type.BaseType;
        foreach (var i in type.Interfaces) yield return i.InterfaceType;
        foreach (var a in type.CustomAttributes) yield return a.AttributeType;
        foreach (var f in type.Fields) yield return f.FieldType;
        foreach (var p in type.Properties) yield return p.PropertyType;
        foreach (var m in type.Methods)
        {
            yield return m.ReturnType;
            foreach (var p in m.Parameters) yield return p.ParameterType;
            foreach (var a in m.CustomAttributes) yield return a.AttributeType;
            if (!m.HasBody) continue;
            foreach (var v in m.Body.Variables) yield return v.VariableType;
            foreach (var h in m.Body.ExceptionHandlers) if (h.CatchType is not null) yield return h.CatchType;
            foreach (var ins in m.Body.Instructions)
            {
                switch (ins.Operand)
                {
                    case TypeReference t: yield return t; break;
                    case MethodReference mr:
                        yield return mr.DeclaringType;
                        yield return mr.ReturnType;
                        foreach (var p in mr.Parameters) yield return p.ParameterType;
                        if (mr is GenericInstanceMethod gm) foreach (var g in gm.GenericArguments) yield return g;
                        break;
                    case FieldReference fr: yield return fr.DeclaringType; yield return fr.FieldType; break;
                }
            }
        }
    }

    /// <summary>A type and the types inside it: generic arguments, array/by-ref element types.</summary>
    private static IEnumerable<TypeReference> Expand(TypeReference? t)
    {
        switch (t)
        {
            case GenericInstanceType g:
                yield return g.ElementType;
                foreach (var a in g.GenericArguments) foreach (var x in Expand(a)) yield return x;
                break;
            case TypeSpecification s:
                foreach (var x in Expand(s.ElementType)) yield return x;
                break;
            case GenericParameter or null:
                break;
            default:
                yield return t;
                break;
        }
    }
}
