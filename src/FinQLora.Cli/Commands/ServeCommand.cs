using System.CommandLine;
using FinQLora.Adapters;
using FinQLora.Serving;
using FinQLora.Server;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora serve`: the OpenAI-compatible HTTP API over a base model and named adapters (docs/SERVING.md).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var adapters = new Option<string[]>("--adapter") { Description = "NAME=DIR: serve the PEFT adapter in DIR as model NAME (a request's \"model\" picks it); repeatable. A bare DIR is named after its folder.", DefaultValueFactory = _ => [] };
        var name = new Option<string?>("--served-model-name") { Description = "The base model's name in /v1/models and requests (default: the --model folder's name, or 'tiny')." };
        var host = new Option<string>("--host") { Description = "Address to listen on (127.0.0.1: this machine only).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Port to listen on (0: any free port, printed at start).", DefaultValueFactory = _ => 8000 };
        var keyFile = new Option<string?>("--api-key-file") { Description = "File whose first line is the API key clients must send (Authorization: Bearer KEY). Without it, no key is asked." };
        var maxBatch = new Option<int>("--max-batch") { Description = "Requests decoded together (KV-cache rows); each decode step costs the same at any number of running requests.", DefaultValueFactory = _ => 8 };
        var maxQueue = new Option<int>("--max-queue") { Description = "Requests that may wait for a row; more are refused with 429.", DefaultValueFactory = _ => 64 };
        var maxContext = new Option<int>("--max-context") { Description = "Prompt plus new tokens per request (also capped by the model's max_position_embeddings); sizes the KV cache.", DefaultValueFactory = _ => 2048 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most new tokens a request may ask for (max_tokens above it: 400).", DefaultValueFactory = _ => 1024 };
        var maxBody = new Option<int>("--max-body-kib") { Description = "Largest request body in KiB (larger: 413).", DefaultValueFactory = _ => 1024 };
        var command = new Command("serve", "Serve the model and its adapters over an OpenAI-compatible HTTP API (chat/completions, completions, models), batching concurrent requests.");
        model.AddTo(command, withAdapters: false);
        foreach (var o in new Option[] { adapters, name, host, port, keyFile, maxBatch, maxQueue, maxContext, maxTokens, maxBody }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var limits = new ServingLimits(parse.GetValue(maxBatch), parse.GetValue(maxQueue), parse.GetValue(maxContext), parse.GetValue(maxTokens)).Validated();
            var specs = (parse.GetValue(adapters) ?? []).Select(ParseAdapter).ToList();
            var key = parse.GetValue(keyFile) is { } f ? ServeSettings.ReadApiKeyFile(f) : null;
            if (parse.GetValue(maxBody) < 1) throw new FinQLoraException("--max-body-kib must be at least 1", exitCode: 2);
            var settings = new ServeSettings(parse.GetValue(host)!, parse.GetValue(port), key, parse.GetValue(maxBody) * 1024L, line => Console.Error.WriteLine(line));
            var modelArg = parse.GetValue(model.Model)!;
            var baseId = parse.GetValue(name) ?? BaseName(modelArg);
            using var served = ServedModel.Create(model.LoadBase(parse), baseId, specs, limits);
            using var engine = new ServingEngine(served);
            var server = OpenAiServer.StartAsync(engine, settings).GetAwaiter().GetResult();
            try
            {
                Console.WriteLine($"serving '{baseId}'{(specs.Count > 0 ? $" and adapters {string.Join(", ", specs.Select(s => $"'{s.Name}'"))}" : "")} at {server.BaseAddress}v1 " +
                                  $"(max batch {limits.MaxBatch}, context {served.ContextLength}, API key {(key is null ? "not required" : "required")}); Ctrl+C stops");
                if (key is null && !IsLoopback(settings.Host))
                    Console.Error.WriteLine($"warning: listening on {settings.Host} without an API key: anyone who reaches this port can use the model (pass --api-key-file)");
                server.WaitForShutdownAsync().GetAwaiter().GetResult();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            return 0;
        });
        return command;
    }

    /// <summary>"NAME=DIR", or a bare DIR named after its folder.</summary>
    internal static AdapterSpec ParseAdapter(string value)
    {
        int eq = value.IndexOf('=');
        var (adapterName, dir) = eq > 0 ? (value[..eq], value[(eq + 1)..]) : (PeftAdapterWeights.NameOf(value), value);
        if (dir.Length == 0) throw new FinQLoraException($"--adapter {value}: expected NAME=DIR (the adapter folder after '=')", exitCode: 2);
        if (!Directory.Exists(dir)) throw new FinQLoraException($"--adapter {value}: the folder {dir} does not exist", exitCode: 2);
        return new AdapterSpec(adapterName, dir);
    }

    private static string BaseName(string model) =>
        model.StartsWith(Inference.ModelBundle.RandomPrefix, StringComparison.Ordinal) ? model.Replace(':', '-') : PeftAdapterWeights.NameOf(model);

    private static bool IsLoopback(string host) =>
        host is "localhost" || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip));
}
