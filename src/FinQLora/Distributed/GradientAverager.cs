using TorchSharp.Modules;
using static TorchSharp.torch;

namespace FinQLora.Distributed;

/// <summary>
/// Averages the trainable parameters' gradients over ranks: the gradients are packed into flat
/// buckets of about <see cref="BucketBytes"/> (one collective per bucket rather than per tensor),
/// all-reduced, divided by the world size and unpacked. LoRA gradients are small (13.6M parameters for
/// the 8B model at r16 on q,k,v,o), so this runs after the backward pass rather than overlapped with it.
/// </summary>
public sealed class GradientAverager(ICommunicator comm, long bucketBytes = 25L << 20)
{
    public long BucketBytes { get; } = bucketBytes;

    public void Average(IReadOnlyList<Parameter> parameters)
    {
        if (comm.WorldSize == 1) return;
        using var outer = NewDisposeScope();   // each `.grad` read makes a managed wrapper
        var withGrad = parameters.Where(p => p.grad is not null).ToList();
        foreach (var bucket in Buckets(withGrad))
        {
            using var scope = NewDisposeScope();
            var flat = cat(bucket.Select(p => p.grad!.reshape(-1).to(ScalarType.Float32)).ToList());   // [n]
            comm.AllReduceSum(flat);
            flat.div_(comm.WorldSize);
            long offset = 0;
            foreach (var p in bucket)
            {
                long n = p.grad!.NumberOfElements;
                p.grad!.copy_(flat.narrow(0, offset, n).view(p.grad!.shape));
                offset += n;
            }
        }
    }

    private IEnumerable<List<Parameter>> Buckets(List<Parameter> ps)
    {
        var bucket = new List<Parameter>();
        long bytes = 0;
        foreach (var p in ps)
        {
            bucket.Add(p);
            bytes += p.NumberOfElements * 4;
            if (bytes >= BucketBytes) { yield return bucket; bucket = []; bytes = 0; }
        }
        if (bucket.Count > 0) yield return bucket;
    }
}
