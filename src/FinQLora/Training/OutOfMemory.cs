namespace FinQLora.Training;

/// <summary>
/// Turns libtorch's "CUDA out of memory" error into a message that names the micro-batch that
/// failed and what to lower, with exit code <see cref="ExitCode"/>.
/// </summary>
public static class OutOfMemory
{
    public const int ExitCode = 4;

    /// <summary>True when <paramref name="e"/> or an inner exception is a CUDA (or CUDA allocator) out-of-memory error.</summary>
    public static bool IsCudaOom(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x.Message.Contains("CUDA out of memory", StringComparison.OrdinalIgnoreCase)
                || x.Message.Contains("CUBLAS_STATUS_ALLOC_FAILED", StringComparison.Ordinal)
                || x.Message.Contains("OutOfMemoryError", StringComparison.Ordinal))
                return true;
        return false;
    }

    /// <summary>
    /// The user-facing error for an out-of-memory failure of a micro-batch of <paramref name="batchSize"/>
    /// sequences × <paramref name="sequenceLength"/> tokens. <paramref name="what"/> says where ("step 12", "validation").
    /// </summary>
    public static FinQLoraException Describe(Exception e, string what, int batchSize, int sequenceLength, int gradAccum, bool gradCheckpointing, int lossChunkSize)
    {
        var fixes = new List<string>();
        if (batchSize > 1)
            fixes.Add($"lower training.batch_size (e.g. --set training.batch_size={batchSize / 2} --set training.grad_accum={gradAccum * 2} keeps the {batchSize * gradAccum} sequences per step)");
        fixes.Add($"lower data.max_length (now {sequenceLength} tokens in this batch)");
        if (!gradCheckpointing) fixes.Add("turn on training.grad_checkpointing");
        if (lossChunkSize > 256) fixes.Add($"lower training.loss_chunk_size (now {lossChunkSize})");
        var detail = FirstLine(e);
        return new FinQLoraException(
            $"CUDA out of memory at {what} with a micro-batch of {batchSize} sequence(s) × {sequenceLength} tokens: {string.Join("; or ", fixes)}. (libtorch: {detail})",
            ExitCode, e);
    }

    private static string FirstLine(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
            if (x.Message.Contains("out of memory", StringComparison.OrdinalIgnoreCase))
                return x.Message.Split('\n')[0].Trim();
        return e.Message.Split('\n')[0].Trim();
    }
}
