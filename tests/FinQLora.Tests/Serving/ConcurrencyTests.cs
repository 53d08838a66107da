using System.Text;
using System.Text.Json.Nodes;
using OpenAI.Chat;

namespace FinQLora.Tests.Serving;

/// <summary>Many clients at once: batched answers equal the answers each request gets alone; a client that leaves frees its row.</summary>
public sealed class ConcurrencyTests(LocalServer server) : IClassFixture<LocalServer>
{
    private sealed record Ask(string Model, string Content, int MaxTokens, bool Stream);

    private static readonly string[] Contents =
    [
        "Rise or fall?", "What is the sentiment? Text: profit fell\nAnswer:", "Analyze the sentiment of this statement.\nText: revenue rose 4%",
        "Is this headline about gold prices going up?", "Q: What was the net income in 2019?\nA:", "hi",
        "Classify: The company reported a loss for the third quarter, citing weak demand.", "Answer with one word.",
    ];

    private static async Task<(string Text, string? Finish, int Tokens)> Send(OpenAI.OpenAIClient client, Ask a)
    {
        var chat = client.GetChatClient(a.Model);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = a.MaxTokens };
        var messages = new ChatMessage[] { new UserChatMessage(a.Content) };
        if (!a.Stream)
        {
            ChatCompletion c = await chat.CompleteChatAsync(messages, options);
            return (c.Content.Count == 0 ? "" : c.Content[0].Text, c.FinishReason.ToString(), c.Usage.OutputTokenCount);
        }
        var text = new StringBuilder();
        string? finish = null;
        int tokens = -1;
        await foreach (var u in chat.CompleteChatStreamingAsync(messages, options))
        {
            foreach (var p in u.ContentUpdate) text.Append(p.Text);
            if (u.FinishReason is { } f) finish = f.ToString();
            if (u.Usage is { } usage) tokens = usage.OutputTokenCount;
        }
        return (text.ToString(), finish, tokens);
    }

    [Fact]
    public async Task Sixty_four_requests_from_sixteen_clients_each_equal_the_same_request_sent_alone()
    {
        var asks = Enumerable.Range(0, 64).Select(i => new Ask(LocalServer.Names[i % 3], Contents[i % Contents.Length], 3 + (i * 5) % 13, i % 4 == 1)).ToList();
        var client = server.OpenAi();
        // each distinct request alone (streaming or not gives the same answer: OpenAiClientTests)
        var aloneByAsk = new Dictionary<Ask, (string, string?, int)>();
        foreach (var a in asks.Select(a => a with { Stream = false }).Distinct()) aloneByAsk[a] = await Send(client, a);
        var alone = asks.Select(a => aloneByAsk[a with { Stream = false }]).ToList();
        long stepsBefore = server.Engine.Stats.Steps;

        // 16 clients with 4 requests each; beside them, 4 clients that leave mid-stream and 4 bad requests
        var results = new (string, string?, int)[asks.Count];
        var clients = Enumerable.Range(0, 16).Select(t => Task.Run(async () =>
        {
            for (int k = 0; k < 4; k++) results[t * 4 + k] = await Send(client, asks[t * 4 + k]);
        }));
        var leavers = Enumerable.Range(0, 4).Select(_ => Task.Run(LeaveMidStream));
        var bad = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            using var http = server.Http();
            return (await LocalServer.Post(http, "v1/chat/completions", """{"model":"adapter-a","messages":[{"role":"robot","content":"hi"}]}""")).Status;
        }));
        await Task.WhenAll(clients.Concat(leavers));
        Assert.All(await Task.WhenAll(bad), status => Assert.Equal(400, status));

        for (int i = 0; i < asks.Count; i++) Assert.True(alone[i] == results[i], $"request {i} ({asks[i]}): alone {alone[i]}, batched {results[i]}");
        long tokens = results.Sum(r => (long)r.Item3);
        long steps = server.Engine.Stats.Steps - stepsBefore;
        Assert.True(steps < tokens / 2, $"{tokens} tokens took {steps} decode steps: requests were not batched");
        await WaitIdle();
        Assert.True(server.Engine.Stats.Cancelled >= 4, $"cancelled: {server.Engine.Stats.Cancelled}");
    }

    /// <summary>Streams a long answer, reads the first piece, and hangs up.</summary>
    private async Task LeaveMidStream()
    {
        using var http = server.Http();
        using var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = LocalServer.JsonBody("""{"model":"adapter-b","prompt":"Revenue","max_tokens":200,"ignore_eos":true,"temperature":0,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await reader.ReadLineAsync();
    }

    private async Task WaitIdle()
    {
        for (int i = 0; i < 200 && server.Engine.Stats is { } s && (s.Active > 0 || s.Waiting > 0); i++) await Task.Delay(25);
        Assert.Equal((0, 0), (server.Engine.Stats.Active, server.Engine.Stats.Waiting));
    }

    [Fact]
    public async Task A_client_that_disconnects_frees_its_row_at_once()
    {
        long cancelled = server.Engine.Stats.Cancelled;
        using var http = server.Http();
        var response = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = LocalServer.JsonBody("""{"model":"base","prompt":"Revenue","max_tokens":200,"ignore_eos":true,"temperature":0,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.StartsWith("data: ", await reader.ReadLineAsync());
        reader.Dispose();
        response.Dispose();
        http.Dispose();
        await WaitIdle();
        Assert.True(cancelled + 1 == server.Engine.Stats.Cancelled, $"cancelled before {cancelled}, now {server.Engine.Stats}");
        var health = JsonNode.Parse(await server.Http().GetStringAsync("health"))!;
        Assert.Equal(0, health["active"]!.GetValue<int>());
    }
}
