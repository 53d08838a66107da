using System.Threading.Channels;
using FinQLora.Inference;
using static TorchSharp.torch;

namespace FinQLora.Serving;

/// <summary>
/// One request inside the engine: its new tokens come out of <see cref="Tokens"/> as they are made; the
/// channel completes when the request ends (with an exception when it was cancelled or failed), and
/// <see cref="Finish"/> then says why it ended.
/// </summary>
public sealed class Generation
{
    private readonly Channel<int> _tokens = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    internal Generation(CompletionRequest request, CancellationToken cancel)
    {
        Request = request;
        Cancel = cancel;
    }

    public CompletionRequest Request { get; }
    public ChannelReader<int> Tokens => _tokens.Reader;
    public FinishReason? Finish { get; private set; }

    internal CancellationToken Cancel { get; }
    internal CancellationTokenRegistration OnCancel { get; set; }   // wakes the engine; removed when the request ends
    internal Generator? Sampler { get; set; }
    internal int Slot { get; set; } = -1;
    internal int Length { get; set; }          // tokens in this request's KV-cache row
    internal int Generated { get; set; }
    internal int LastToken { get; set; }

    internal void Emit(int token) => _tokens.Writer.TryWrite(token);

    internal void End(FinishReason? reason, Exception? error)
    {
        Finish = reason;
        OnCancel.Dispose();
        Sampler?.Dispose();
        Sampler = null;
        _tokens.Writer.TryComplete(error);
    }
}
