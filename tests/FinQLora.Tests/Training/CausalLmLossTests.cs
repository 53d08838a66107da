using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Training;
using static TorchSharp.torch;

namespace FinQLora.Tests.Training;

public class CausalLmLossTests
{
    private static LlamaForCausalLM Tiny() => LlamaBuilder.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));

    [Fact]
    public void Loss_equals_cross_entropy_of_the_full_logits_over_labelled_positions()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var ids = tensor(new long[] { 1000, 5, 17, 300, 42, 8, 999, 77, 12, 400 }).view(2, 5);
        var labels = tensor(new long[] { -100, -100, 17, 300, 42, -100, -100, -100, 12, 400 }).view(2, 5);
        var ours = CausalLmLoss.Compute(model, ids, labels, null, null, gradientCheckpointing: false, seed: 0, chunk: 2);

        var logits = model.Logits(ids).narrow(1, 0, 4).reshape(-1, model.Config.VocabSize);
        var reference = nn.functional.cross_entropy(logits, labels.narrow(1, 1, 4).reshape(-1), ignore_index: -100, reduction: nn.Reduction.Sum);
        Assert.Equal(5, ours.Tokens);
        Assert.Equal(reference.item<float>(), ours.Sum.item<float>(), 3);
    }

    [Fact]
    public void Packed_sequences_score_as_if_they_were_separate()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var a = new long[] { 1000, 5, 17, 300 };
        var b = new long[] { 1000, 42, 8 };
        LossResult Single(long[] x) => CausalLmLoss.Compute(model, tensor(x).unsqueeze(0), tensor(x.Select((v, i) => i == 0 ? -100 : v).ToArray()).unsqueeze(0), null, null, false, 0);
        var separate = Single(a).Sum.item<float>() + Single(b).Sum.item<float>();

        var packedIds = tensor(a.Concat(b).ToArray()).unsqueeze(0);
        // the first token of each sequence has no label; position ids restart; attention stays inside a segment
        var packedLabels = tensor(new long[] { -100, 5, 17, 300, -100, 42, 8 }).unsqueeze(0);
        var positions = tensor(new long[] { 0, 1, 2, 3, 0, 1, 2 }).unsqueeze(0);
        var segments = tensor(new long[] { 0, 0, 0, 0, 1, 1, 1 }).unsqueeze(0);
        var packed = CausalLmLoss.Compute(model, packedIds, packedLabels, positions, segments, false, 0);
        Assert.Equal(5, packed.Tokens);
        Assert.Equal(separate, packed.Sum.item<float>(), 3);
    }
}

public class LabelledPositionsTests
{
    [Fact]
    public void Host_positions_are_the_shifted_labelled_targets_and_give_the_same_loss()
    {
        // rows of 5: labels on tokens 3, 4 of row 0 and 1, 2 of row 1 → shifted targets j = 2, 3 and 0, 1 (row 1 offset 4)
        long[] labels = [-100, -100, -100, 7, 8, -100, 9, 10, -100, -100];
        Assert.Equal(new long[] { 2, 3, 4, 5 }, FinQLora.Training.CausalLmLoss.LabelledPositions(labels, 2, 5));

        using var model = Loading.LlamaBuilder.Load(Fixtures.TinyModel, new Loading.ModelLoadOptions(TorchSharp.torch.CPU, TorchSharp.torch.ScalarType.Float32));
        using var ids = TorchSharp.torch.tensor(new long[] { 1000, 5, 17, 300, 42, 8, 999, 77, 12, 400 }).view(2, 5);
        using var lab = TorchSharp.torch.tensor(labels).view(2, 5);
        var device = FinQLora.Training.CausalLmLoss.Compute(model, ids, lab, null, null, false, 0);
        var host = FinQLora.Training.CausalLmLoss.Compute(model, ids, lab, null, null, false, 0, labelled: FinQLora.Training.CausalLmLoss.LabelledPositions(labels, 2, 5));
        Assert.Equal(4, device.Tokens);
        Assert.Equal(device.Tokens, host.Tokens);
        Assert.Equal(device.Sum.item<float>(), host.Sum.item<float>());
    }
}
