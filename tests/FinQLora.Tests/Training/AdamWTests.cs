using FinQLora.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

[Collection(GlobalRngCollection.Name)]
public class AdamWTests
{
    private static (string, Parameter)[] Params(ScalarType dtype, long seed)
    {
        random.manual_seed(seed);
        return [("a.weight", new Parameter(randn(4, 3).to(dtype))), ("b.bias", new Parameter(randn(5).to(dtype)))];
    }

    private static void SetGrads(IEnumerable<Parameter> ps, long seed, ScalarType dtype)
    {
        random.manual_seed(seed);
        foreach (var p in ps) p.grad = randn(p.shape).to(dtype);
    }

    [Fact]
    public void One_step_matches_the_update_worked_out_by_hand()
    {
        // θ=1, g=0.5, lr=0.1, λ=0.01: θ ← 0.999; m=0.05; v=0.00025; m̂=0.5; √v̂=0.5 → θ ← 0.999 − 0.1·0.5/(0.5+1e-8)
        using var p = new Parameter(tensor(new[] { 1.0f }));
        using var opt = new FinQLora.Training.AdamW([("p", p)], new FinQLora.Training.AdamW.Options(Lr: 0.1, WeightDecay: 0.01));
        p.grad = tensor(new[] { 0.5f });
        opt.Step();
        Assert.Equal(0.899, p.item<float>(), 5);
        Assert.Equal(1, opt.StepOf("p"));
    }

    [Fact]
    public void Matches_TorchSharps_AdamW_over_several_steps()
    {
        using var scope = NewDisposeScope();
        var ours = Params(ScalarType.Float32, 1);
        var theirs = Params(ScalarType.Float32, 1);
        var o = new FinQLora.Training.AdamW.Options(Lr: 1e-2, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.1);
        using var a = new FinQLora.Training.AdamW(ours, o);
        using var b = new TorchSharp.Modules.AdamW(theirs.Select(x => x.Item2), lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2, eps: o.Eps, weight_decay: o.WeightDecay);
        for (int step = 0; step < 6; step++)
        {
            SetGrads(ours.Select(x => x.Item2), 100 + step, ScalarType.Float32);
            SetGrads(theirs.Select(x => x.Item2), 100 + step, ScalarType.Float32);
            a.Step();
            b.step();
        }
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.False(ours[i].Item2.equal(Params(ScalarType.Float32, 1)[i].Item2).all().item<bool>());  // it moved
            Assert.True(ours[i].Item2.allclose(theirs[i].Item2, rtol: 1e-5, atol: 1e-6), $"{ours[i].Item1} differs");
        }
    }

    [Fact]
    public void Saved_and_loaded_state_continues_bit_identically()
    {
        using var scope = NewDisposeScope();
        var dir = Fixtures.TempDir();
        var o = new FinQLora.Training.AdamW.Options(Lr: 1e-2, WeightDecay: 0.01);
        var straight = Params(ScalarType.Float32, 7);
        using var s = new FinQLora.Training.AdamW(straight, o);
        var resumed = Params(ScalarType.Float32, 7);
        var first = new FinQLora.Training.AdamW(resumed, o);
        for (int step = 0; step < 5; step++)
        {
            SetGrads(straight.Select(x => x.Item2), step, ScalarType.Float32);
            s.Step();
            if (step < 3)
            {
                SetGrads(resumed.Select(x => x.Item2), step, ScalarType.Float32);
                first.Step();
            }
        }
        first.Save(Path.Combine(dir, "optimizer.safetensors"));
        first.Dispose();
        using var second = new FinQLora.Training.AdamW(resumed, o);
        second.Load(Path.Combine(dir, "optimizer.safetensors"));
        Assert.Equal(3, second.StepOf("a.weight"));
        for (int step = 3; step < 5; step++)
        {
            SetGrads(resumed.Select(x => x.Item2), step, ScalarType.Float32);
            second.Step();
        }
        for (int i = 0; i < straight.Length; i++) Assert.True(straight[i].Item2.equal(resumed[i].Item2).all().item<bool>());
    }

    [Fact]
    public void Bfloat16_parameters_are_updated_through_a_float32_master_copy()
    {
        using var scope = NewDisposeScope();
        var o = new FinQLora.Training.AdamW.Options(Lr: 1e-4);
        var bf = Params(ScalarType.BFloat16, 3);
        var reference = bf.Select(x => (x.Item1, new Parameter(x.Item2.detach().to(ScalarType.Float32)))).ToArray();
        using var a = new FinQLora.Training.AdamW(bf, o);
        using var b = new FinQLora.Training.AdamW(reference, o);
        for (int step = 0; step < 20; step++)
        {
            SetGrads(bf.Select(x => x.Item2), step, ScalarType.BFloat16);
            for (int i = 0; i < bf.Length; i++) reference[i].Item2.grad = bf[i].Item2.grad!.to(ScalarType.Float32);
            a.Step();
            b.Step();
        }
        // 20 steps of ~1e-4 would vanish in bfloat16 arithmetic (spacing 2^-7 near 1); the master keeps them
        for (int i = 0; i < bf.Length; i++)
            Assert.True(bf[i].Item2.equal(reference[i].Item2.to(ScalarType.BFloat16)).all().item<bool>());
    }

    [Fact]
    public void Loading_state_for_an_unknown_parameter_is_refused()
    {
        var dir = Fixtures.TempDir();
        using var scope = NewDisposeScope();
        var ps = Params(ScalarType.Float32, 1);
        using (var a = new FinQLora.Training.AdamW(ps, new()))
        {
            SetGrads(ps.Select(x => x.Item2), 0, ScalarType.Float32);
            a.Step();
            a.Save(Path.Combine(dir, "o.safetensors"));
        }
        using var other = new FinQLora.Training.AdamW([("c.weight", new Parameter(zeros(2)))], new());
        var e = Assert.Throws<FinQLoraException>(() => other.Load(Path.Combine(dir, "o.safetensors")));
        Assert.Contains("not a trainable parameter of this run", e.Message);
    }
}
