using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using FinQLora.Serving;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace FinQLora.Server;

/// <summary>
/// The OpenAI-compatible HTTP API over a <see cref="ServingEngine"/>, on Kestrel:
/// POST /v1/chat/completions and /v1/completions (stream: true sends server-sent events in OpenAI's chunk
/// format, ending with "data: [DONE]"), GET /v1/models (the base model and every adapter; a request's
/// "model" picks one), GET /v1/models/{id}, and GET /health (no key needed). Refusals are OpenAI error
/// bodies with OpenAI's status codes (<see cref="HttpError"/>). A client that disconnects cancels its request,
/// which frees its batch row.
/// </summary>
public sealed class OpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ServingEngine _engine;
    private readonly ServeSettings _settings;
    private readonly byte[]? _key;
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>The address it listens on (the real port when <see cref="ServeSettings.Port"/> was 0).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    private OpenAiServer(ServingEngine engine, ServeSettings settings)
    {
        _engine = engine;
        _settings = settings;
        _key = settings.ApiKey is null ? null : Encoding.UTF8.GetBytes(settings.ApiKey);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();   // one access line per request from here instead; headers (the key) are never logged
        builder.WebHost.UseKestrel(k => k.Limits.MaxRequestBodySize = null);   // the body cap is checked here, with an OpenAI error
        builder.WebHost.UseUrls($"http://{(settings.Host.Contains(':') ? $"[{settings.Host}]" : settings.Host)}:{settings.Port}");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        _app = builder.Build();
        _app.MapGet("/health", Health);
        _app.MapGet("/v1/models", ctx => Guard(ctx, Models));
        _app.MapGet("/v1/models/{id}", ctx => Guard(ctx, ModelById));
        _app.MapPost("/v1/chat/completions", ctx => Guard(ctx, c => Complete(c, chat: true)));
        _app.MapPost("/v1/completions", ctx => Guard(ctx, c => Complete(c, chat: false)));
    }

    /// <summary>Starts listening; the engine stays the caller's.</summary>
    public static async Task<OpenAiServer> StartAsync(ServingEngine engine, ServeSettings settings)
    {
        var server = new OpenAiServer(engine, settings);
        try
        {
            await server._app.StartAsync();
        }
        catch (IOException e)
        {
            await server._app.DisposeAsync();
            throw new FinQLoraException($"cannot listen on {settings.Host}:{settings.Port}: {e.Message} (is another server using the port?)", exitCode: 3);
        }
        var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address.Replace("0.0.0.0", "127.0.0.1").Replace("[::]", "[::1]"));
        return server;
    }

    /// <summary>Waits until the process is asked to stop (Ctrl+C, SIGTERM).</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    private async Task Health(HttpContext ctx)
    {
        var s = _engine.Stats;
        await Json(ctx, 200, new JsonObject
        {
            ["status"] = "ok", ["model"] = _engine.Model.BaseId, ["adapters"] = new JsonArray(_engine.Model.Adapters.Select(a => (JsonNode)a).ToArray()),
            ["max_batch"] = _engine.Model.Limits.MaxBatch, ["max_queue"] = _engine.Model.Limits.MaxQueue, ["context_length"] = _engine.Model.ContextLength,
            ["active"] = s.Active, ["waiting"] = s.Waiting, ["completed"] = s.Completed, ["cancelled"] = s.Cancelled, ["failed"] = s.Failed, ["decode_steps"] = s.Steps,
        });
    }

    private async Task Models(HttpContext ctx)
    {
        await Json(ctx, 200, new JsonObject { ["object"] = "list", ["data"] = new JsonArray(_engine.Model.ModelIds.Select(m => (JsonNode)ModelCard(m)).ToArray()) });
    }

    private async Task ModelById(HttpContext ctx)
    {
        var id = (string)ctx.Request.RouteValues["id"]!;
        if (!_engine.Model.ModelIds.Contains(id))
            throw HttpError.From(new ServingException($"The model '{id}' does not exist", ServingError.ModelNotFound, "model"));
        await Json(ctx, 200, ModelCard(id));
    }

    private JsonObject ModelCard(string id) => new()
    {
        ["id"] = id, ["object"] = "model", ["created"] = _created, ["owned_by"] = "finqlora",
        ["root"] = _engine.Model.BaseId, ["parent"] = id == _engine.Model.BaseId ? null : _engine.Model.BaseId,
        ["max_model_len"] = _engine.Model.ContextLength,
    };

    private async Task Complete(HttpContext ctx, bool chat)
    {
        var body = OpenAiRequest.Parse(await ReadBody(ctx));
        var r = OpenAiRequest.Read(body, chat);
        var served = _engine.Model;
        served.AdapterFor(r.Model);   // an unknown model is a 404 before anything else is looked at
        int[] ids;
        try
        {
            ids = chat ? served.EncodeChat(OpenAiRequest.Messages(body)) : served.EncodePrompt(OpenAiRequest.Prompt(body));
        }
        catch (FinQLoraException e) when (e is not ServingException)   // e.g. the tokenizer's regex timeout on a hostile text
        {
            throw HttpError.BadRequest(e.Message, chat ? "messages" : "prompt");
        }
        var request = served.CreateRequest(r.Model, ids, r.Sampling, chat ? "messages" : "prompt");
        string id = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var cancel = ctx.RequestAborted;
        if (!r.Stream)
        {
            var result = await CompletionStream.Complete(_engine, request, cancel);
            var choice = chat
                ? new JsonObject { ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = result.Text }, ["logprobs"] = null, ["finish_reason"] = Reason(result.Finish) }
                : new JsonObject { ["index"] = 0, ["text"] = result.Text, ["logprobs"] = null, ["finish_reason"] = Reason(result.Finish) };
            await Json(ctx, 200, Envelope(id, chat ? "chat.completion" : "text_completion", created, request.Model, choice, Usage(result)));
            Note(ctx, Summary(request, result));
            return;
        }
        // the first chunk goes out only after the engine took the request (a busy server still answers 429 as JSON)
        var chunks = CompletionStream.Run(_engine, request, cancel).GetAsyncEnumerator(cancel);
        try
        {
            bool any = await chunks.MoveNextAsync();
            ctx.Response.StatusCode = 200;
            ctx.Response.ContentType = "text/event-stream";
            ctx.Response.Headers.CacheControl = "no-cache";
            string objectName = chat ? "chat.completion.chunk" : "text_completion";
            if (chat) await Event(ctx, Envelope(id, objectName, created, request.Model, Delta(chat, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null), null));
            CompletionChunk? last = null;
            try
            {
                for (; any; any = await chunks.MoveNextAsync())
                {
                    var c = chunks.Current;
                    last = c;
                    if (c.Text.Length > 0 || c.Finish is not null)
                        await Event(ctx, Envelope(id, objectName, created, request.Model, Delta(chat, chat ? new JsonObject { ["content"] = c.Text } : null, c, c.Finish is null ? null : Reason(c.Finish)), null));
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                var error = e is ServingException se ? HttpError.From(se) : new HttpError(500, $"generation failed: {e.Message}", "server_error");
                await Event(ctx, error.Body());
                throw new ResponseStarted(error.Status, e);
            }
            if (r.IncludeUsage && last is not null)
            {
                var usage = Envelope(id, objectName, created, request.Model, null, Usage(last));
                usage["choices"] = new JsonArray();
                await Event(ctx, usage);
            }
            await ctx.Response.WriteAsync("data: [DONE]\n\n", cancel);
            Note(ctx, last is null ? request.Model : Summary(request, last));
        }
        finally
        {
            await chunks.DisposeAsync();
        }
    }

    private static JsonObject Delta(bool chat, JsonObject? delta, CompletionChunk? c, string? finish = null) => chat
        ? new JsonObject { ["index"] = 0, ["delta"] = delta ?? new JsonObject(), ["logprobs"] = null, ["finish_reason"] = finish }
        : new JsonObject { ["index"] = 0, ["text"] = c?.Text ?? "", ["logprobs"] = null, ["finish_reason"] = finish };

    private static JsonObject Envelope(string id, string objectName, long created, string model, JsonObject? choice, JsonObject? usage)
    {
        var o = new JsonObject { ["id"] = id, ["object"] = objectName, ["created"] = created, ["model"] = model, ["system_fingerprint"] = "finqlora" };
        if (choice is not null) o["choices"] = new JsonArray(choice);
        if (usage is not null) o["usage"] = usage;
        return o;
    }

    private static JsonObject Usage(CompletionChunk c) => new()
    {
        ["prompt_tokens"] = c.PromptTokens, ["completion_tokens"] = c.CompletionTokens, ["total_tokens"] = c.PromptTokens + c.CompletionTokens,
    };

    private static string? Reason(FinishReason? r) => r switch { FinishReason.Stop => "stop", FinishReason.Length => "length", _ => null };

    private static string Summary(CompletionRequest r, CompletionChunk c) => $"model={r.Model} prompt={c.PromptTokens} completion={c.CompletionTokens} finish={Reason(c.Finish)}";

    /// <summary>Runs a /v1 handler: the key first, then the handler; every refusal becomes an OpenAI error body; one access line.</summary>
    private async Task Guard(HttpContext ctx, Func<HttpContext, Task> handler)
    {
        var clock = Stopwatch.StartNew();
        string? detail = null;
        try
        {
            CheckKey(ctx);
            await handler(ctx);
            detail = ctx.Items[NoteKey] as string;
        }
        catch (ResponseStarted e)
        {
            ctx.Response.StatusCode = ctx.Response.HasStarted ? ctx.Response.StatusCode : e.Status;
            detail = $"failed mid-stream: {e.InnerException!.Message}";
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            detail = "client disconnected; request cancelled";
        }
        catch (Exception e) when (e is HttpError or ServingException || !ctx.Response.HasStarted)
        {
            var error = e switch
            {
                HttpError h => h,
                ServingException s => HttpError.From(s),
                _ => new HttpError(500, $"internal error: {e.Message}", "server_error"),
            };
            detail = error.Message;
            if (!ctx.Response.HasStarted) await Json(ctx, error.Status, error.Body());
        }
        _settings.Log?.Invoke($"{ctx.Request.Method} {ctx.Request.Path} {ctx.Response.StatusCode} {clock.ElapsedMilliseconds} ms{(detail is null ? "" : " " + detail)}");
    }

    private const string NoteKey = "finqlora.access-note";

    /// <summary>What the access line says about a request that succeeded (model, token counts).</summary>
    private static void Note(HttpContext ctx, string text) => ctx.Items[NoteKey] = text;

    private void CheckKey(HttpContext ctx)
    {
        if (_key is null) return;
        var header = ctx.Request.Headers.Authorization.ToString();
        if (header.Length == 0)
            throw new HttpError(401, "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer KEY'", code: "invalid_api_key");
        const string bearer = "Bearer ";
        var given = header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) ? Encoding.UTF8.GetBytes(header[bearer.Length..].Trim()) : [];
        if (!CryptographicOperations.FixedTimeEquals(given, _key))
            throw new HttpError(401, "Incorrect API key provided", code: "invalid_api_key");
    }

    /// <summary>The body, refused with 413 past <see cref="ServeSettings.MaxBodyBytes"/> (from Content-Length before reading, else while reading).</summary>
    private async Task<byte[]> ReadBody(HttpContext ctx)
    {
        long max = _settings.MaxBodyBytes;
        HttpError TooLarge() => new(413, $"The request body is larger than this server's limit of {max} bytes", code: "request_too_large");
        if (ctx.Request.ContentLength > max) throw TooLarge();
        using var buffer = new MemoryStream();
        var chunk = new byte[16384];
        int n;
        while ((n = await ctx.Request.Body.ReadAsync(chunk, ctx.RequestAborted)) > 0)
        {
            if (buffer.Length + n > max) throw TooLarge();
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }

    /// <summary>Text as it is (an apostrophe stays one), still valid JSON.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions Output = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static async Task Json(HttpContext ctx, int status, JsonObject body)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body.ToJsonString(Output), ctx.RequestAborted);
    }

    private static async Task Event(HttpContext ctx, JsonObject data)
    {
        await ctx.Response.WriteAsync($"data: {data.ToJsonString(Output)}\n\n", ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    /// <summary>A stream that failed after its 200 header went out: the error went as an event; the access log notes it.</summary>
    private sealed class ResponseStarted(int status, Exception inner) : Exception(inner.Message, inner)
    {
        public int Status { get; } = status;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
