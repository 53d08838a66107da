using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Quantization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Adapters;

/// <summary>What <see cref="LoraMerger.MergeInto(LlamaForCausalLM, IReadOnlyList{string}, IWeightSource?, Action{string}?)"/> changed.</summary>
/// <param name="Dense">dense projections whose weight was changed in place</param>
/// <param name="Requantized">4-bit projections replaced by the 4-bit quantization of their merged weight</param>
/// <param name="FromCheckpoint">of the 4-bit ones, those merged from the checkpoint's dense weight (one rounding to 4 bits)
/// instead of from their dequantized 4-bit weight (a second rounding)</param>
public sealed record MergeIntoResult(int Dense, int Requantized, int FromCheckpoint)
{
    public int Total => Dense + Requantized;
}

public static partial class LoraMerger
{
    /// <summary>
    /// Folds an adapter folder into a loaded dense model's projection weights, in place:
    /// W ← cast(W + scaling·B·A in fp32). Returns the number of projections changed.
    /// </summary>
    public static int MergeInto(LlamaForCausalLM model, string adapterDir) => MergeInto(model, [adapterDir]).Total;

    /// <summary>
    /// Folds adapter folders into a loaded model's base weights (init_adapter_mode: merge), one
    /// projection at a time, so at most one projection's weight exists in fp32 besides the model:
    /// <list type="bullet">
    /// <item>dense <c>Linear</c>: W ← cast(W + Σ scaling·B·A), the sum in fp32, cast to W's dtype (as PEFT's merge_and_unload);</item>
    /// <item>4-bit <c>Nf4Linear</c>: W' = W + Σ scaling·B·A in fp32, cast to the compute dtype and quantized again
    /// (NF4, blocks of 64, double quantization: what `finqlora merge --requantize nf4` writes); the layer is
    /// replaced. W is the dense weight from <paramref name="checkpoint"/> when it has one (a dense checkpoint
    /// quantized while loading: the result is exactly the merged checkpoint quantized while loading, one
    /// rounding), else the dequantized 4-bit weight (a bitsandbytes checkpoint: a second rounding).</item>
    /// </list>
    /// Every adapter file is read and checked against the model's shapes before any weight changes.
    /// <paramref name="afterProjection"/> is called with each changed projection's path (tests watch memory with it).
    /// </summary>
    public static MergeIntoResult MergeInto(LlamaForCausalLM model, IReadOnlyList<string> adapterDirs, IWeightSource? checkpoint = null, Action<string>? afterProjection = null)
    {
        if (adapterDirs.Count == 0) throw new FinQLoraException("nothing to merge: no adapter folder given");
        var adapters = PeftAdapterWeights.ReadAll(adapterDirs, model.Config);
        try
        {
            var targets = LoraInjector.Projections(model).Where(p => adapters.Any(a => a.ByModule.ContainsKey(p.Path))).ToList();
            foreach (var (path, layer) in targets)
                if (layer.base_layer is not (Linear { weight: not null } or Nf4Linear))
                    throw new FinQLoraException($"{adapters[0].Dir}: cannot merge into '{path}', whose base is {layer.base_layer.GetType().Name}: stack the adapter instead (init_adapter_mode: stack)");
            int dense = 0, requantized = 0, fromCheckpoint = 0;
            using var _ = no_grad();
            foreach (var (path, layer) in targets)
            {
                using (var scope = NewDisposeScope())
                {
                    if (layer.base_layer is Linear { weight: { } w })
                    {
                        var merged = w.to(ScalarType.Float32, copy: true);                            // [out, in]
                        AddDeltas(merged, adapters, path);
                        w.copy_(merged.to(w.dtype));
                        dense++;
                    }
                    else
                    {
                        var q = (Nf4Linear)layer.base_layer;
                        var device = q.State.Device;
                        bool fromDense = checkpoint is not null && checkpoint.Contains(path + ".weight") && !BnbNf4Format.IsQuantized(path, checkpoint.Contains);
                        var merged = fromDense ? checkpoint!.Load(path + ".weight", device, ScalarType.Float32)   // [out, in]
                                               : Nf4.Dequantize(q.State, ScalarType.Float32);
                        if (merged.shape[0] != q.OutFeatures || merged.shape[1] != q.InFeatures)
                            throw new FinQLoraException($"'{path}.weight' has shape [{string.Join(", ", merged.shape)}] in the checkpoint, the model has [{q.OutFeatures}, {q.InFeatures}]");
                        AddDeltas(merged, adapters, path);
                        var state = Nf4.Quantize(merged.to(q.ComputeDType)).MoveToOuterDisposeScope();
                        layer.ReplaceBase(new Nf4Linear(state, q.ComputeDType));
                        requantized++;
                        if (fromDense) fromCheckpoint++;
                    }
                }
                afterProjection?.Invoke(path);
            }
            return new MergeIntoResult(dense, requantized, fromCheckpoint);
        }
        finally
        {
            foreach (var a in adapters) a.Dispose();
        }
    }

    /// <summary>w += Σ scaling·B·A over the adapters that change <paramref name="path"/>, in order (as <see cref="Merge"/> does).</summary>
    private static void AddDeltas(Tensor w, IReadOnlyList<PeftAdapterWeights> adapters, string path)
    {
        foreach (var a in adapters)
        {
            using var delta = a.Delta(path, w.device);
            if (delta is not null) w.add_(delta);
        }
    }
}
