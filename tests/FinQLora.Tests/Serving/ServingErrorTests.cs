using System.ClientModel;
using System.Text.Json.Nodes;
using FinQLora.Serving;
using OpenAI.Chat;

namespace FinQLora.Tests.Serving;

/// <summary>docs/ERRORS.md, serving rows: each bad request gets OpenAI's error body with OpenAI's status, and the server goes on.</summary>
public sealed class ServingErrorTests(LocalServer server) : IClassFixture<LocalServer>
{
    private static void AssertError(int expectedStatus, string expectedMessagePart, (int Status, JsonNode? Body) answer, string? param = null, string? code = null)
    {
        Assert.Equal(expectedStatus, answer.Status);
        var error = answer.Body!["error"]!;
        Assert.Contains(expectedMessagePart, error["message"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(error["type"]!.GetValue<string>()));
        if (param is not null) Assert.Equal(param, error["param"]!.GetValue<string>());
        if (code is not null) Assert.Equal(code, error["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_model_is_404_model_not_found_also_through_the_openai_client()
    {
        using var http = server.Http();
        AssertError(404, "The model 'nope' does not exist", await LocalServer.Post(http, "v1/chat/completions", """{"model":"nope","messages":[{"role":"user","content":"hi"}]}"""), "model", "model_not_found");
        AssertError(404, "does not exist", await LocalServer.Post(http, "v1/completions", """{"model":"nope","prompt":"hi"}"""), code: "model_not_found");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => server.OpenAi().GetChatClient("nope").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(404, e.Status);
        Assert.Contains("'adapter-a'", e.Message);
    }

    [Fact]
    public async Task Malformed_json_and_wrong_field_types_are_400_naming_the_field()
    {
        using var http = server.Http();
        AssertError(400, "not valid JSON", await LocalServer.Post(http, "v1/chat/completions", """{"model": "base", "messages": [""" ));
        AssertError(400, "must be a JSON object", await LocalServer.Post(http, "v1/chat/completions", "[1, 2]"));
        AssertError(400, "max_tokens must be an integer", await LocalServer.Post(http, "v1/chat/completions", """{"model":"base","messages":[{"role":"user","content":"hi"}],"max_tokens":"many"}"""), "max_tokens");
        AssertError(400, "temperature must be in [0, 2]", await LocalServer.Post(http, "v1/chat/completions", """{"model":"base","messages":[{"role":"user","content":"hi"}],"temperature":3}"""), "temperature");
        AssertError(400, "messages is required", await LocalServer.Post(http, "v1/chat/completions", """{"model":"base"}"""), "messages");
        AssertError(400, "model is required", await LocalServer.Post(http, "v1/completions", """{"prompt":"hi"}"""), "model");
        AssertError(400, "tool calls are not supported", await LocalServer.Post(http, "v1/chat/completions", """{"model":"base","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function"}]}"""), "tools");
    }

    [Fact]
    public async Task An_unknown_role_is_400_naming_the_message()
    {
        using var http = server.Http();
        AssertError(400, "messages[1].role: unknown role 'tool' (expected system, user or assistant)",
            await LocalServer.Post(http, "v1/chat/completions", """{"model":"base","messages":[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]}"""), "messages[1].role");
    }

    [Fact]
    public async Task A_prompt_over_the_context_length_is_400_context_length_exceeded()
    {
        using var http = server.Http();
        var longText = string.Concat(Enumerable.Repeat("profit fell sharply. ", 200));
        AssertError(400, "maximum context length is 256 tokens", await LocalServer.Post(http, "v1/completions",
            new JsonObject { ["model"] = "base", ["prompt"] = longText }.ToJsonString()), "prompt", "context_length_exceeded");
        // a prompt that fits, but not with the completion asked for
        AssertError(400, "in the completion", await LocalServer.Post(http, "v1/completions",
            new JsonObject { ["model"] = "base", ["prompt"] = string.Concat(Enumerable.Repeat("profit fell. ", 10)), ["max_tokens"] = 200 }.ToJsonString()), "max_tokens", "context_length_exceeded");
    }

    [Fact]
    public async Task Max_tokens_over_the_servers_cap_is_400()
    {
        using var http = server.Http();
        AssertError(400, "max_tokens is 241, over this server's limit of 240", await LocalServer.Post(http, "v1/chat/completions",
            """{"model":"base","messages":[{"role":"user","content":"hi"}],"max_tokens":241}"""), "max_tokens");
        var e = await Assert.ThrowsAsync<ClientResultException>(() => server.OpenAi().GetChatClient("base").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 1000 }));
        Assert.Equal(400, e.Status);
    }

    [Fact]
    public async Task A_body_over_the_size_limit_is_413_before_it_is_parsed()
    {
        using var http = server.Http();
        var big = new JsonObject { ["model"] = "base", ["prompt"] = new string('x', 70 << 10) }.ToJsonString();   // the test server's limit: 64 KiB
        AssertError(413, "larger than this server's limit of 65536 bytes", await LocalServer.Post(http, "v1/completions", big), code: "request_too_large");
        // and the server still answers
        var (status, _) = await LocalServer.Post(http, "v1/completions", """{"model":"base","prompt":"Revenue","max_tokens":2}""");
        Assert.Equal(200, status);
    }
}

/// <summary>A server with an API key and room for one running request and one waiting: 401 and 429.</summary>
public sealed class ServingLimitTests : IAsyncLifetime
{
    private const string Key = "sk-finqlora-test-7f3a9c";
    private readonly LocalServer _server = new(new ServingLimits(MaxBatch: 1, MaxQueue: 1, MaxContext: 256, MaxTokens: 240), Key);

    public Task InitializeAsync() => _server.InitializeAsync();
    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task A_missing_or_wrong_api_key_is_401_and_no_key_appears_in_the_log()
    {
        const string body = """{"model":"base","messages":[{"role":"user","content":"hi"}],"max_tokens":2}""";
        using (var none = _server.Http())
        {
            var (status, answer) = await LocalServer.Post(none, "v1/chat/completions", body);
            Assert.Equal(401, status);
            Assert.Equal("invalid_api_key", answer!["error"]!["code"]!.GetValue<string>());
            Assert.Contains("didn't provide an API key", answer["error"]!["message"]!.GetValue<string>());
            Assert.Equal(200, (int)(await none.GetAsync("health")).StatusCode);   // health needs no key
        }
        using (var wrong = _server.Http("sk-wrong-key-123"))
        {
            var (status, answer) = await LocalServer.Post(wrong, "v1/chat/completions", body);
            Assert.Equal(401, status);
            Assert.Contains("Incorrect API key", answer!["error"]!["message"]!.GetValue<string>());
            Assert.Equal(401, (int)(await wrong.GetAsync("v1/models")).StatusCode);
        }
        var e = await Assert.ThrowsAsync<ClientResultException>(() => _server.OpenAi("sk-also-wrong").GetChatClient("base").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, e.Status);
        ChatCompletion ok = await _server.OpenAi(Key).GetChatClient("base").CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.NotNull(ok.Content);
        var log = string.Join("\n", _server.Log);
        Assert.Contains("POST /v1/chat/completions 401", log);
        foreach (var secret in new[] { Key, "sk-wrong-key-123", "sk-also-wrong" }) Assert.DoesNotContain(secret, log);
    }

    [Fact]
    public async Task When_the_row_and_the_queue_are_taken_more_requests_get_429_and_the_others_finish()
    {
        using var http = _server.Http(Key);
        // a long streamed answer holds the only row while the others arrive
        using var holder = await http.SendAsync(new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = LocalServer.JsonBody("""{"model":"base","prompt":"Revenue","max_tokens":240,"temperature":0,"ignore_eos":true,"stream":true}"""),
        }, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(200, (int)holder.StatusCode);
        var others = Enumerable.Range(0, 6).Select(_ => LocalServer.Post(http, "v1/completions", """{"model":"base","prompt":"Revenue","max_tokens":3,"temperature":0}""")).ToList();
        var answers = await Task.WhenAll(others);
        var busy = answers.Where(a => a.Status == 429).ToList();
        Assert.NotEmpty(busy);
        Assert.All(busy, a => Assert.Equal("rate_limit_exceeded", a.Body!["error"]!["type"]!.GetValue<string>()));
        Assert.Contains("The server is busy", busy[0].Body!["error"]!["message"]!.GetValue<string>());
        Assert.All(answers.Where(a => a.Status != 429), a => Assert.Equal(200, a.Status));
        var stream = await holder.Content.ReadAsStringAsync();
        Assert.EndsWith("data: [DONE]\n\n", stream);
        Assert.Contains("\"finish_reason\":\"length\"", stream);
    }
}
