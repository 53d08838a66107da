using System.Diagnostics;
using System.Security.Cryptography;
using CsCheck;

namespace FinQLora.Tests.Fuzz;

/// <summary>
/// The contract every parser fuzzer checks, one input at a time: the parser returns, or throws a
/// <see cref="FinQLoraException"/> with a message — never another exception type, never a hang (a
/// per-case timeout), never a large allocation (bytes allocated by the case's thread are capped).
/// A failing input is saved under /tmp/finqlora-fuzz-failures for reproduction.
/// </summary>
internal sealed class FuzzCase(string fuzzer)
{
    /// <summary>Cases per property: 300 in the ordinary test run; FINQLORA_FUZZ_ITER=100000 for the long run.</summary>
    public static long Iter => long.TryParse(Environment.GetEnvironmentVariable("FINQLORA_FUZZ_ITER"), out var n) ? n : 300;

    /// <summary>A case that runs longer than this is a hang (FINQLORA_FUZZ_TIMEOUT_S overrides the 10 s).</summary>
    public static TimeSpan Timeout => TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("FINQLORA_FUZZ_TIMEOUT_S"), out var s) ? s : 10);

    /// <summary>Managed bytes one case may allocate: a fixed allowance plus a multiple of the input's size.</summary>
    public static long AllocationCap(int inputLength) => (64L << 20) + 64L * inputLength;

    private long _parsed, _refused, _maxAllocated;

    public long Parsed => Interlocked.Read(ref _parsed);
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Runs <paramref name="parse"/> on one input and fails the test unless it keeps the contract.</summary>
    public void Run(byte[] input, Action parse)
    {
        Exception? error = null;
        long allocated = 0;
        var task = Task.Run(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try { parse(); }
            catch (Exception e) { error = e; }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        });
        if (!task.Wait(Timeout))
            throw new FuzzFailure($"{fuzzer}: a case ran longer than {Timeout.TotalSeconds} s (hang); input saved to {Save(input)}");
        InterlockedMax(ref _maxAllocated, allocated);
        if (allocated > AllocationCap(input.Length))
            throw new FuzzFailure($"{fuzzer}: a case of {input.Length} bytes allocated {allocated:N0} bytes (cap {AllocationCap(input.Length):N0}); input saved to {Save(input)}");
        switch (error)
        {
            case null: Interlocked.Increment(ref _parsed); break;
            case FinQLoraException fe when !string.IsNullOrWhiteSpace(fe.Message):
                Interlocked.Increment(ref _refused); break;
            case FinQLoraException fe:
                throw new FuzzFailure($"{fuzzer}: the error message is empty: '{fe.Message}'; input saved to {Save(input)}", fe);
            default:
                throw new FuzzFailure($"{fuzzer}: {error.GetType().Name} instead of a FinQLoraException: {error.Message}; input saved to {Save(input)}", error);
        }
    }

    /// <summary>
    /// The usual fuzzer: writes each input from <paramref name="inputs"/> to <paramref name="path"/>, runs
    /// <paramref name="parse"/> on it under the contract, <see cref="Iter"/> times, and reports the summary line.
    /// </summary>
    public static void Files(string fuzzer, Gen<byte[]> inputs, string path, Action parse, Action<string> report)
    {
        var fuzz = new FuzzCase(fuzzer);
        var sw = Stopwatch.StartNew();
        inputs.Sample(bytes =>
        {
            File.WriteAllBytes(path, bytes);
            fuzz.Run(bytes, parse);
        }, iter: Iter, threads: 1);
        report(fuzz.Summary(sw.Elapsed));
    }

    /// <summary>One line for the test output and docs/FUZZING.md.</summary>
    public string Summary(TimeSpan elapsed) =>
        $"{fuzzer}: {Parsed + Refused} cases in {elapsed.TotalSeconds:F1} s: {Parsed} parsed, {Refused} refused with a FinQLoraException, 0 other; largest allocation {Interlocked.Read(ref _maxAllocated) / 1024.0 / 1024:F1} MiB";

    private string Save(byte[] input)
    {
        var dir = Path.Combine(Path.GetTempPath(), "finqlora-fuzz-failures");
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, $"{fuzzer}-{Convert.ToHexStringLower(SHA256.HashData(input))[..16]}.bin");
        File.WriteAllBytes(path, input);
        return path;
    }

    private static void InterlockedMax(ref long target, long value)
    {
        for (long seen = Interlocked.Read(ref target); value > seen; seen = Interlocked.Read(ref target))
            if (Interlocked.CompareExchange(ref target, value, seen) == seen) return;
    }

    /// <summary>A broken contract (an exception type CsCheck shrinks on and xunit reports).</summary>
    public sealed class FuzzFailure(string message, Exception? inner = null) : Exception(message, inner);
}
