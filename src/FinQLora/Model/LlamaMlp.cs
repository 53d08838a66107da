using static TorchSharp.torch;

namespace FinQLora.Model;

/// <summary>SwiGLU MLP: down(silu(gate(x)) * up(x)).</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> gate_proj, up_proj, down_proj;

    public LlamaMlp(nn.Module<Tensor, Tensor> gate, nn.Module<Tensor, Tensor> up, nn.Module<Tensor, Tensor> down) : base(nameof(LlamaMlp))
    {
        gate_proj = gate; up_proj = up; down_proj = down;
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var cast = SharedInput.Cast(x, gate_proj, up_proj);      // LoRA's fp32 input, once for gate and up
        var hidden = nn.functional.silu(SharedInput.Call(gate_proj, x, cast)) * SharedInput.Call(up_proj, x, cast);   // [b, s, f]
        return down_proj.call(hidden).MoveToOuterDisposeScope();
    }
}
