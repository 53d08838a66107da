using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Serving;
using FinQLora.Server;
using OpenAI;
using static TorchSharp.torch;

namespace FinQLora.Tests.Serving;

/// <summary>
/// `finqlora serve`'s server, in this process, on a free loopback port: the parity fixture model (the tiny
/// transformers checkpoint the adapter fixtures were made for) as "base", with adapter-a and adapter-b.
/// </summary>
public sealed class LocalServer : IAsyncLifetime
{
    public const string Base = "base";
    public static readonly string[] Names = [Base, "adapter-a", "adapter-b"];

    private readonly ServingLimits _limits;
    private readonly string? _apiKey;
    private readonly long _maxBody;

    public LocalServer() : this(new ServingLimits(MaxBatch: 8, MaxQueue: 64, MaxContext: 256, MaxTokens: 240)) { }

    internal LocalServer(ServingLimits limits, string? apiKey = null, long maxBody = 64 << 10)
    {
        _limits = limits;
        _apiKey = apiKey;
        _maxBody = maxBody;
    }

    public ServingEngine Engine { get; private set; } = null!;
    public OpenAiServer Server { get; private set; } = null!;
    public Uri Url => Server.BaseAddress;
    public List<string> Log { get; } = [];

    public async Task InitializeAsync()
    {
        var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        var served = ServedModel.Create(bundle, Base,
            [new AdapterSpec("adapter-a", Fixtures.Parity("adapter-a")), new AdapterSpec("adapter-b", Fixtures.Parity("adapter-b"))], _limits);
        Engine = new ServingEngine(served);
        Server = await OpenAiServer.StartAsync(Engine, new ServeSettings("127.0.0.1", 0, _apiKey, _maxBody, line => { lock (Log) Log.Add(line); }));
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        var served = Engine.Model;
        Engine.Dispose();
        served.Dispose();
    }

    /// <summary>The official OpenAI .NET client pointed at this server (no retries: a 429 must show, not be retried).</summary>
    public OpenAIClient OpenAi(string key = "no-key-needed") =>
        new(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(Url, "v1"), RetryPolicy = new ClientRetryPolicy(0) });

    public HttpClient Http(string? key = null)
    {
        // no draining of an abandoned response: disposing it mid-stream hangs up, as a client that goes away does
        var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = Url, Timeout = TimeSpan.FromSeconds(60) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public static StringContent JsonBody(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>POSTs a body; the status and the parsed answer.</summary>
    public static async Task<(int Status, JsonNode? Body)> Post(HttpClient http, string path, string json)
    {
        using var response = await http.PostAsync(path, JsonBody(json));
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    /// <summary>Decoding of <paramref name="ids"/> by the existing batch generator on a model of its own, with the adapter attached alone (or none); greedy unless <paramref name="options"/> say otherwise.</summary>
    public static (int[] Ids, string Text) GenerateAlone(int[] ids, string? adapter, int maxNew, GenerationOptions? options = null)
    {
        using var bundle = ModelBundle.Load(Fixtures.TinyModel, new ModelLoadOptions(CPU, ScalarType.Float32));
        if (adapter is not null) FinQLora.Adapters.PeftAdapterFiles.Load(Fixtures.Parity(adapter), bundle.Model, adapter);
        var result = TextGenerator.Generate(bundle.Model, [ids], bundle.Tokenizer.StopIds, bundle.Tokenizer.PadId, options ?? new GenerationOptions(maxNew))[0];
        return (result.TokenIds, bundle.Tokenizer.Decode(result.TokenIds, skipSpecialTokens: true));
    }
}
