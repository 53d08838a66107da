using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Model;
using static TorchSharp.torch;

namespace FinQLora.Serving;

/// <summary>
/// Counters for /health and tests: requests running and waiting now; totals since start; decode steps; and the
/// tensors alive on the engine's thread after its last turn (flat while serving: nothing leaks per request).
/// </summary>
public sealed record EngineStats(int Active, int Waiting, long Completed, long Cancelled, long Failed, long Steps, long LiveTensors);

/// <summary>
/// Continuous batching over one model: a thread owns the model and a <see cref="SlotKvCache"/> with
/// <see cref="ServingLimits.MaxBatch"/> rows. Each turn it drops cancelled requests, prefills waiting
/// requests into free rows (one forward each: the KV cache row plus the first token), then runs one decode
/// step for all rows. A request joins the running batch at the next turn and leaves as soon as it ends,
/// is cancelled or its caller goes away.
/// <para>
/// The decode step always has the same shapes: every row (idle rows decode a pad token that nobody reads)
/// and the whole cache capacity under a mask. A request's numbers then do not depend on how many others run
/// beside it or how long they are (its greedy answer equals the one it gets alone, to the bit on the CPU), at
/// the price of a step that costs the same at 1 request as at <see cref="ServingLimits.MaxBatch"/>. Rows for
/// different adapters go through <see cref="AdapterRouting"/>. A prefill that throws fails only its own request;
/// a decode step that throws fails the requests in that step, and the engine goes on with new ones.
/// </para>
/// <para>The engine owns the model while it runs (its thread, its adapter routing): run nothing else on that model meanwhile.</para>
/// </summary>
public sealed class ServingEngine : IDisposable
{
    private readonly ServedModel _served;
    private readonly LlamaForCausalLM _model;
    private readonly SlotKvCache _cache;
    private readonly AdapterRouting _routing = new();
    private readonly Generation?[] _rows;
    private readonly Queue<Generation> _waiting = new();
    private readonly Lock _lock = new();
    private readonly ManualResetEventSlim _wake = new(false);
    private readonly Thread _thread;
    private readonly int _padId;
    private volatile bool _stopping;
    private int _inFlight;
    private long _completed, _cancelled, _failed, _steps, _liveTensors;

    public ServedModel Model => _served;

    public ServingEngine(ServedModel served)
    {
        _served = served;
        _model = served.Bundle.Model;
        var c = _model.Config;
        int slots = served.Limits.MaxBatch;
        _rows = new Generation?[slots];
        _padId = served.Bundle.Tokenizer.PadId is var p && p >= 0 && p < c.VocabSize ? p : 0;
        _cache = new SlotKvCache(c.NumHiddenLayers, slots, c.NumKeyValueHeads, served.ContextLength, c.HeadDim, _model.DType, _model.Device);
        AdapterRouting.Install(_model, _routing);
        _thread = new Thread(Run) { IsBackground = true, Name = "finqlora-serving" };
        _thread.Start();
    }

    public EngineStats Stats
    {
        get
        {
            lock (_lock)
                return new EngineStats(_rows.Count(r => r is not null), _waiting.Count, Interlocked.Read(ref _completed),
                    Interlocked.Read(ref _cancelled), Interlocked.Read(ref _failed), Interlocked.Read(ref _steps), Interlocked.Read(ref _liveTensors));
        }
    }

    /// <summary>
    /// Queues a request; its tokens come out of the returned <see cref="Generation"/>. Refused with
    /// <see cref="ServingError.Busy"/> when every row is taken and the queue is full. Cancelling
    /// <paramref name="cancel"/> frees the request's row (or queue place) at the engine's next turn.
    /// </summary>
    public Generation Submit(CompletionRequest request, CancellationToken cancel)
    {
        if (_stopping) throw new ObjectDisposedException(nameof(ServingEngine));
        var g = new Generation(request, cancel);
        g.OnCancel = cancel.Register(Wake);
        lock (_lock)
        {
            if (_inFlight >= _served.Limits.MaxBatch + _served.Limits.MaxQueue)
            {
                g.OnCancel.Dispose();
                throw new ServingException($"The server is busy: {_served.Limits.MaxBatch} requests are running and {_served.Limits.MaxQueue} are waiting; try again shortly",
                    ServingError.Busy);
            }
            _inFlight++;
            _waiting.Enqueue(g);
        }
        Wake();
        return g;
    }

    private void Wake()
    {
        try { _wake.Set(); }
        catch (ObjectDisposedException) { }   // a cancellation that arrives after shutdown
    }

    private void Run()
    {
        using var noGrad = no_grad();
        while (!_stopping)
        {
            _wake.Reset();
            DropCancelled();
            Admit();
            Interlocked.Exchange(ref _liveTensors, TorchSharp.DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            if (_rows.All(r => r is null))
            {
                _wake.Wait(TimeSpan.FromMilliseconds(200));
                continue;
            }
            try
            {
                DecodeStep();
            }
            catch (Exception e)
            {
                foreach (var g in _rows.OfType<Generation>().ToList()) End(g, null, e);
            }
        }
        lock (_lock)
        {
            var left = _rows.OfType<Generation>().Concat(_waiting).ToList();
            _waiting.Clear();
            foreach (var g in left) End(g, null, new ObjectDisposedException(nameof(ServingEngine), "the server is shutting down"));
        }
    }

    private void DropCancelled()
    {
        foreach (var g in _rows.OfType<Generation>().Where(g => g.Cancel.IsCancellationRequested).ToList())
            End(g, null, new OperationCanceledException(g.Cancel));
    }

    private void Admit()
    {
        while (Array.IndexOf(_rows, null) is var slot && slot >= 0)
        {
            Generation? g;
            lock (_lock) if (!_waiting.TryDequeue(out g)) return;
            if (g.Cancel.IsCancellationRequested) { End(g, null, new OperationCanceledException(g.Cancel)); continue; }
            try
            {
                Prefill(g, slot);
            }
            catch (Exception e)
            {
                End(g, null, e);
            }
        }
    }

    /// <summary>The prompt into its cache row, one forward with batch 1; its last position gives the first new token.</summary>
    private void Prefill(Generation g, int slot)
    {
        using var scope = NewDisposeScope();
        var dev = _model.Device;
        var prompt = g.Request.PromptIds;
        int n = prompt.Length;
        g.Slot = slot;
        lock (_lock) _rows[slot] = g;
        g.Sampler = TokenSampler.CreateGenerator(g.Request.Options);
        _routing.Set([g.Request.Adapter], dev);
        using var row = _cache.Slot(slot);
        var ids = tensor(prompt.Select(x => (long)x).ToArray(), [1, n]).to(dev);                  // [1, s]
        var positions = arange(n, ScalarType.Int64, dev).unsqueeze(0);                              // [1, s]
        var hidden = _model.model.Forward(ids, positions, null, row);                               // [1, s, d]
        var logits = _model.lm_head.call(hidden.narrow(1, n - 1, 1)).squeeze(1).to(ScalarType.Float32);   // [1, v]
        int token = (int)TokenSampler.Next(logits, g.Request.Options, g.Sampler).cpu().item<long>();
        g.Length = n;
        Accept(g, token);
    }

    /// <summary>One new token for every running request: all rows, the whole cache under each row's mask.</summary>
    private void DecodeStep()
    {
        using var scope = NewDisposeScope();
        var dev = _model.Device;
        int slots = _rows.Length;
        var ids = new long[slots];
        var pos = new long[slots];
        var adapters = new string?[slots];
        for (int r = 0; r < slots; r++)
            if (_rows[r] is { } g) { ids[r] = g.LastToken; pos[r] = g.Length; adapters[r] = g.Request.Adapter; }
            else ids[r] = _padId;   // an idle row writes and reads position 0 of its own row only
        var positions = tensor(pos).to(dev);                                                        // [slots]
        // row r may attend to positions 0 .. pos[r] (the token written this step included)
        var mask = arange(_cache.Capacity, ScalarType.Int64, dev).unsqueeze(0).le(positions.unsqueeze(1))   // [slots, t_max]
            .view(slots, 1, 1, _cache.Capacity);                                                    // [slots, 1, 1, t_max]
        _cache.SetWritePositions(positions);
        _routing.Set(adapters, dev);
        var hidden = _model.model.Forward(tensor(ids, [slots, 1]).to(dev), positions.unsqueeze(1), mask, _cache);   // [slots, 1, d]
        var logits = _model.lm_head.call(hidden).squeeze(1).to(ScalarType.Float32);               // [slots, v]
        var greedy = logits.argmax(-1).cpu().data<long>().ToArray();                                // [slots]
        Interlocked.Increment(ref _steps);
        for (int r = 0; r < slots; r++)
        {
            if (_rows[r] is not { } g) continue;
            g.Length++;
            var o = g.Request.Options;
            int token = o.Greedy ? (int)greedy[r] : (int)TokenSampler.Next(logits.narrow(0, r, 1), o, g.Sampler).cpu().item<long>();
            Accept(g, token);
        }
    }

    /// <summary>A new token for <paramref name="g"/>: an end token finishes it (not emitted); the token limit finishes it after emitting.</summary>
    private void Accept(Generation g, int token)
    {
        if (!g.Request.IgnoreEos && _served.Bundle.Tokenizer.StopIds.Contains(token)) { End(g, FinishReason.Stop, null); return; }
        g.Generated++;
        g.LastToken = token;
        g.Emit(token);
        if (g.Generated >= g.Request.Options.MaxNewTokens || g.Length >= _cache.Capacity) End(g, FinishReason.Length, null);
    }

    private void End(Generation g, FinishReason? reason, Exception? error)
    {
        lock (_lock)
        {
            if (g.Slot >= 0 && ReferenceEquals(_rows[g.Slot], g)) _rows[g.Slot] = null;
            _inFlight--;
        }
        if (error is null) Interlocked.Increment(ref _completed);
        else if (error is OperationCanceledException) Interlocked.Increment(ref _cancelled);
        else Interlocked.Increment(ref _failed);
        g.End(reason, error);
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        _wake.Set();
        _thread.Join();
        AdapterRouting.Install(_model, null);
        _routing.Dispose();
        _cache.Dispose();
        _wake.Dispose();
    }
}
