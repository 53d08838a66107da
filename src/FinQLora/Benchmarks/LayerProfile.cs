using System.Diagnostics;
using FinQLora.Adapters;
using FinQLora.Cuda;
using FinQLora.Model;
using FinQLora.Quantization;
using FinQLora.Runtime;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Benchmarks;

/// <summary>
/// Where a decoder layer's time goes: each part of the first decoder layer run alone on the
/// benchmark's batch × sequence, repeated, timed with CUDA events (GPU milliseconds per call) and
/// the host's enqueue time per call. Forward parts run without a graph; the last rows are the whole
/// layer forward and forward + backward with and without recomputation (gradient checkpointing).
/// A part whose host time reaches its GPU time is launch-bound.
/// </summary>
public static class LayerProfile
{
    private const int Repeats = 10;

    public static IReadOnlyList<PhaseTime> Run(LlamaForCausalLM model, BenchSettings s, Device device, ScalarType dtype)
    {
        var c = s.ResolveShape();
        var layer = model.model.layers[0];
        var attn = layer.self_attn;
        var rows = new List<PhaseTime>();
        using var scope = NewDisposeScope();
        random.manual_seed(s.Seed);
        var x = randn([s.Batch, s.Seq, c.HiddenSize], dtype, device);                                   // [b, s, d]
        var positions = arange(s.Seq, ScalarType.Int64, device).unsqueeze(0).expand(s.Batch, s.Seq);
        var (cos, sin) = model.model.Rope.Compute(positions, dtype);                                    // [b, s, d_h]
        var ctx = new AttentionContext(cos, sin, null, true, null);
        var q = randn([s.Batch, c.NumAttentionHeads, s.Seq, c.HeadDim], dtype, device);                // [b, h, s, d_h]
        var k = randn([s.Batch, c.NumKeyValueHeads, s.Seq, c.HeadDim], dtype, device);                 // [b, h_kv, s, d_h]
        int nRep = c.NumAttentionHeads / c.NumKeyValueHeads;
        var kRep = k.unsqueeze(2).expand(s.Batch, c.NumKeyValueHeads, nRep, s.Seq, c.HeadDim).reshape(s.Batch, c.NumAttentionHeads, s.Seq, c.HeadDim);
        var hidden = randn([s.Batch, s.Seq, c.IntermediateSize], dtype, device);                       // [b, s, f]
        var attnOut = randn([s.Batch, s.Seq, c.NumAttentionHeads * c.HeadDim], dtype, device);

        using (no_grad())
        {
            Time(rows, "rmsnorm", () => layer.input_layernorm.call(x));
            Time(rows, "rmsnorm, tensor ops", () => RmsNorm.WithOps(x, layer.input_layernorm.weight, c.RmsNormEps));
            foreach (var (name, proj, input) in new (string, nn.Module<Tensor, Tensor>, Tensor)[]
                     {
                         ("q_proj", attn.q_proj, x), ("k_proj", attn.k_proj, x), ("v_proj", attn.v_proj, x), ("o_proj", attn.o_proj, attnOut),
                         ("gate_proj", layer.mlp.gate_proj, x), ("up_proj", layer.mlp.up_proj, x), ("down_proj", layer.mlp.down_proj, hidden),
                     })
            {
                Time(rows, name, () => proj.call(input));
                if (proj is LoraLinear { Adapters.Count: > 0 } lora) Time(rows, name + " base only", () => lora.base_layer.call(input));
                if (proj is LoraLinear { base_layer: Nf4Linear nf4 }) Time(rows, name + " dequantize", () => Nf4.Dequantize(nf4.State, dtype));
            }
            var qHeads = q.transpose(1, 2).contiguous();                                                     // [b, s, h, d_h]
            Time(rows, "rope (q)", () => RotaryEmbedding.ApplyToHeads(qHeads, cos, sin));
            Time(rows, "rope (q), tensor ops", () => RotaryEmbedding.Apply(q, cos, sin));
            Time(rows, "rope (k), tensor ops", () => RotaryEmbedding.Apply(k, cos, sin));
            Time(rows, "repeat_kv (k)", () => k.unsqueeze(2).expand(s.Batch, c.NumKeyValueHeads, nRep, s.Seq, c.HeadDim).reshape(s.Batch, c.NumAttentionHeads, s.Seq, c.HeadDim));
            Time(rows, "sdpa (causal)", () => nn.functional.scaled_dot_product_attention(q, kRep, kRep, null, 0.0, true));
            Time(rows, "silu(gate) * up", () => nn.functional.silu(hidden) * hidden);
            Time(rows, "residual add", () => x + x);
            Time(rows, "layer forward", () => layer.Forward(x, ctx));
        }
        var g = ones_like(x);
        Time(rows, "layer forward+backward", () =>
        {
            var input = x.detach().requires_grad_(true);
            layer.Forward(input, ctx).backward([g]);
            AutogradHandoff.Release();
            return input.grad!;
        });
        Time(rows, "layer forward+backward, recomputed", () =>
        {
            var input = x.detach().requires_grad_(true);
            CheckpointedLayers.Run([layer], input, ctx, 0).backward([g]);
            AutogradHandoff.Release();
            return input.grad!;
        });
        foreach (var p in layer.parameters()) p.grad?.zero_();
        return rows;
    }

    private static void Time(List<PhaseTime> rows, string name, Func<Tensor> part)
    {
        using (var warm = NewDisposeScope()) part();
        cuda.synchronize();
        using var start = new CudaDriver.Event();
        using var end = new CudaDriver.Event();
        start.Record();
        var host = Stopwatch.StartNew();
        for (int i = 0; i < Repeats; i++)
        {
            using var scope = NewDisposeScope();
            part();
        }
        double hostMs = host.Elapsed.TotalMilliseconds / Repeats;
        end.Record();
        rows.Add(new PhaseTime(name, CudaDriver.Event.ElapsedMs(start, end) / Repeats, hostMs));
    }
}
