using System.Collections.Concurrent;
using static TorchSharp.torch;

namespace FinQLora.Runtime;

/// <summary>
/// Frees the managed wrappers of tensors that cross TorchSharp's custom-autograd boundary.
/// For CUDA tensors libtorch runs backward functions on its own device thread, outside every
/// dispose scope of the caller, and TorchSharp disposes neither the gradients a custom
/// <c>backward</c> returns nor the wrappers it makes for the grad-output and the saved tensors.
/// Each wrapper keeps its tensor's GPU memory alive until the .NET GC finalizes it, which on an
/// 8B model meant gigabytes per step and device memory that grew with the run. A custom
/// backward therefore disposes its grad-output and saved tensors itself and hands its results
/// out through <see cref="Return"/>; whoever calls <c>backward()</c> calls <see cref="Release"/>
/// afterwards (libtorch holds its own references to what it still needs, so disposing the
/// wrappers never frees a tensor that is in use).
/// </summary>
public static class AutogradHandoff
{
    private static readonly ConcurrentQueue<Tensor> Pending = new();

    /// <summary>The gradients a backward returns, one per argument of apply (null = none), released later by <see cref="Release"/>.</summary>
    public static List<Tensor> Return(params Tensor?[] grads)
    {
        foreach (var g in grads)
            if (g is not null)
            {
                g.DetachFromDisposeScope();
                Pending.Enqueue(g);
            }
        return grads.ToList()!;
    }

    /// <summary>
    /// A tensor a custom forward passes to save_for_backward but owns no longer: TorchSharp takes its
    /// reference only after forward returns, so the wrapper must outlive forward; it is released with the gradients.
    /// </summary>
    public static Tensor Keep(Tensor t)
    {
        t.DetachFromDisposeScope();
        Pending.Enqueue(t);
        return t;
    }

    /// <summary>Disposes the wrappers of every gradient handed to autograd so far (call after backward() returns).</summary>
    public static void Release()
    {
        while (Pending.TryDequeue(out var t)) t.Dispose();
    }

    /// <summary>Disposes wrappers TorchSharp made for a backward's inputs (grad-outputs, saved tensors).</summary>
    public static void Dispose(IEnumerable<Tensor> wrappers)
    {
        foreach (var t in wrappers) t.Dispose();
    }
}
