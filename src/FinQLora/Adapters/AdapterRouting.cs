using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>
/// Which rows of the next forward use which adapter (a server batches requests for different adapters):
/// <see cref="LoraLinear"/> multiplies adapter a's delta by a's 0/1 row mask [b, 1, 1] and skips an adapter
/// no row uses. A row's output is then base + its own adapter's delta, added in the same order as alone
/// (x + 0·δ = x exactly), so a request's numbers do not depend on what else is in the batch.
/// Without a routing (null on the layers), every attached adapter applies to every row (stacked adapters).
/// </summary>
public sealed class AdapterRouting : IDisposable
{
    private readonly Dictionary<string, Tensor> _masks = new(StringComparer.Ordinal);

    /// <summary>The row mask [b, 1, 1] of <paramref name="adapter"/>, or null when no row uses it.</summary>
    public Tensor? RowMask(string adapter) => _masks.GetValueOrDefault(adapter);

    /// <summary>Sets the rows' adapters (null = the base model alone) for the next forward.</summary>
    public void Set(IReadOnlyList<string?> rowAdapters, Device device)
    {
        Clear();
        foreach (var name in rowAdapters.OfType<string>().Distinct())
        {
            var mask = rowAdapters.Select(a => a == name ? 1f : 0f).ToArray();
            _masks[name] = tensor(mask, [mask.Length, 1, 1]).to(device).DetachFromDisposeScope();   // [b, 1, 1]
        }
    }

    private void Clear()
    {
        foreach (var m in _masks.Values) m.Dispose();
        _masks.Clear();
    }

    /// <summary>Routes every projection of <paramref name="model"/> through <paramref name="routing"/> (null: stacked again).</summary>
    public static void Install(Model.LlamaForCausalLM model, AdapterRouting? routing)
    {
        foreach (var (_, layer) in LoraInjector.Projections(model)) layer.Routing = routing;
    }

    public void Dispose() => Clear();
}
