using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Serving;
using Microsoft.Extensions.AI;
using static TorchSharp.torch;

namespace FinQLora.Tests.Serving;

/// <summary>The IChatClient as an application uses it: built into a Microsoft.Extensions.AI pipeline, options per call.</summary>
public sealed class ChatClientTests : IDisposable
{
    private readonly ServingEngine _engine;

    public ChatClientTests()
    {
        var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        var served = ServedModel.Create(bundle, "base", [new AdapterSpec("sentiment", Fixtures.Parity("adapter-a"))], new ServingLimits(MaxBatch: 4, MaxContext: 256, MaxTokens: 200));
        _engine = new ServingEngine(served);
    }

    public void Dispose()
    {
        var served = _engine.Model;
        _engine.Dispose();
        served.Dispose();
    }

    private const string Question = "What is the sentiment? Text: profit fell\nAnswer:";

    [Fact]
    public async Task An_application_pipeline_gets_answers_from_the_adapter_named_in_the_options()
    {
        int calls = 0;
        // as an app would wire it: defaults configured once in the pipeline, a middleware of its own around the model
        IChatClient client = new ChatClientBuilder(new FinQLoraChatClient(_engine))
            .ConfigureOptions(o => { o.ModelId ??= "sentiment"; o.Temperature ??= 0; })
            .Use(async (messages, options, next, cancel) => { Interlocked.Increment(ref calls); await next(messages, options, cancel); })
            .Build();

        var response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, Question)], new ChatOptions { MaxOutputTokens = 12 });
        var tokenizer = _engine.Model.Bundle.Tokenizer;
        var ids = _engine.Model.EncodeChat([new FinQLora.Text.ChatMessage("user", Question)]);
        Assert.Equal(LocalServer.GenerateAlone(ids, "adapter-a", 12).Text, response.Text);
        Assert.Equal("sentiment", response.ModelId);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal((long)ids.Length, response.Usage!.InputTokenCount);
        Assert.Equal(12, response.Usage.OutputTokenCount);
        Assert.Equal(ids.Length + 12, response.Usage.TotalTokenCount);

        // the base model by name: transformers' greedy answer for this chat (the parity fixture)
        var baseAnswer = await client.GetResponseAsync(Question, new ChatOptions { ModelId = "base", MaxOutputTokens = 12 });
        Assert.Equal(tokenizer.Decode(Fixtures.Ints(Fixtures.Expected["greedy_chat"]!["new_ids"]), skipSpecialTokens: true), baseAnswer.Text);

        // streaming through the same pipeline gives the same text, then the finish reason and usage
        var streamed = await client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, Question)], new ChatOptions { MaxOutputTokens = 12 }).ToChatResponseAsync();
        Assert.Equal(response.Text, streamed.Text);
        Assert.Equal(ChatFinishReason.Length, streamed.FinishReason);
        Assert.Equal(12, streamed.Usage!.OutputTokenCount);
        Assert.Equal(3, calls);
        Assert.Equal("finqlora", client.GetService<ChatClientMetadata>()!.ProviderName);
    }

    [Fact]
    public async Task Stop_sequences_seed_and_temperature_act_as_documented()
    {
        IChatClient client = new FinQLoraChatClient(_engine);
        var greedy = (await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 20 })).Text;
        int at = Enumerable.Range(greedy.Length / 2, greedy.Length - greedy.Length / 2 - 1).First(i => char.IsLetter(greedy[i]) && char.IsLetter(greedy[i + 1]));
        var cut = await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0, MaxOutputTokens = 20, StopSequences = [greedy.Substring(at, 2)] });
        Assert.Equal(greedy[..greedy.IndexOf(greedy.Substring(at, 2), StringComparison.Ordinal)], cut.Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);

        async Task<string> Sample(long seed) => (await client.GetResponseAsync(Question, new ChatOptions { Temperature = 0.9f, TopP = 0.9f, Seed = seed, MaxOutputTokens = 10 })).Text;
        Assert.Equal(await Sample(3), await Sample(3));
        Assert.NotEqual(await Sample(3), await Sample(4));

        // the same seed gives what `finqlora generate --seed` gives (one sampler for both)
        var ids = _engine.Model.EncodeChat([new FinQLora.Text.ChatMessage("user", Question)]);
        Assert.Equal(LocalServer.GenerateAlone(ids, null, 10, new GenerationOptions(10, 0.9f, 0.9f, 3)).Text, await Sample(3));

        var e = await Assert.ThrowsAsync<ServingException>(() => client.GetResponseAsync(Question, new ChatOptions { ModelId = "other" }));
        Assert.Equal(ServingError.ModelNotFound, e.Error);
        Assert.Equal(ServingError.InvalidRequest, (await Assert.ThrowsAsync<ServingException>(() => client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 500 }))).Error);
    }

    [Fact]
    public async Task Cancelling_a_streamed_answer_stops_it_and_frees_its_row()
    {
        IChatClient client = new FinQLoraChatClient(_engine);
        using var cts = new CancellationTokenSource();
        int pieces = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in client.GetStreamingResponseAsync(Question, new ChatOptions { MaxOutputTokens = 150, Temperature = 0 }, cts.Token))
                if (++pieces == 2) await cts.CancelAsync();
        });
        for (int i = 0; i < 100 && _engine.Stats.Active > 0; i++) await Task.Delay(20);
        Assert.Equal(0, _engine.Stats.Active);
        Assert.Equal(1, _engine.Stats.Cancelled);
        // and the engine goes on
        Assert.NotNull((await client.GetResponseAsync(Question, new ChatOptions { MaxOutputTokens = 3 })).Text);
    }

    [Fact]
    public async Task Serving_many_requests_leaves_no_tensor_behind_on_the_engine_thread()
    {
        IChatClient client = new FinQLoraChatClient(_engine);
        async Task Round() => await Task.WhenAll(Enumerable.Range(0, 6).Select(i => client.GetResponseAsync(Question + i,
            new ChatOptions { ModelId = i % 2 == 0 ? "base" : "sentiment", Temperature = i % 3 == 0 ? 0.8f : 0, Seed = i, MaxOutputTokens = 4 + i })));
        async Task<long> IdleLive()
        {
            for (int i = 0; i < 100 && _engine.Stats.Active + _engine.Stats.Waiting > 0; i++) await Task.Delay(20);
            await Task.Delay(450);   // an idle engine looks again every 200 ms and records its live tensors
            return _engine.Stats.LiveTensors;
        }
        await Round();
        long before = await IdleLive();
        for (int r = 0; r < 3; r++) await Round();
        Assert.Equal(before, await IdleLive());
    }
}
