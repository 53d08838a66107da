using System.CommandLine;
using System.Text.Json;
using FinQLora.Server;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora serve-bench`: serving throughput of a running server at several numbers of concurrent clients (docs/SERVING.md).</summary>
internal static class ServeBenchCommand
{
    private static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "The server's address.", DefaultValueFactory = _ => "http://127.0.0.1:8000" };
        var concurrency = new Option<string>("--concurrency") { Description = "Comma-separated numbers of concurrent clients.", DefaultValueFactory = _ => "1,8,32" };
        var requests = new Option<int>("--requests") { Description = "Requests each client sends, one after another.", DefaultValueFactory = _ => 2 };
        var promptTokens = new Option<int>("--prompt-tokens") { Description = "About this many prompt tokens per request.", DefaultValueFactory = _ => 256 };
        var maxTokens = new Option<int>("--max-tokens") { Description = "New tokens per request (ignore_eos: always this many).", DefaultValueFactory = _ => 128 };
        var model = new Option<string?>("--served-model") { Description = "The \"model\" to request (default: the first of /v1/models)." };
        var keyFile = new Option<string?>("--api-key-file") { Description = "File with the server's API key." };
        var output = new Option<string?>("--output") { Description = "Also append the JSON lines to this file." };
        var command = new Command("serve-bench", "Measure a running server: output tokens/s, time to first token and latency at each number of concurrent clients; one JSON line per level.");
        foreach (var o in new Option[] { url, concurrency, requests, promptTokens, maxTokens, model, keyFile, output }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var levels = parse.GetValue(concurrency)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(x => int.TryParse(x, out var n) && n > 0 ? n : throw new FinQLoraException($"--concurrency {parse.GetValue(concurrency)}: expected positive whole numbers, e.g. 1,8,32", exitCode: 2)).ToList();
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var uri)) throw new FinQLoraException($"--url {parse.GetValue(url)}: not an absolute URL", exitCode: 2);
            var key = parse.GetValue(keyFile) is { } f ? ServeSettings.ReadApiKeyFile(f) : null;
            var settings = new ServeBenchSettings(uri, levels, parse.GetValue(requests), parse.GetValue(promptTokens), parse.GetValue(maxTokens), parse.GetValue(model), key);
            var path = parse.GetValue(output);
            ServeBench.Run(settings, r =>
            {
                var line = JsonSerializer.Serialize(r, Snake);
                Console.WriteLine(line);
                if (path is not null) File.AppendAllText(path, line + "\n");
            }).GetAwaiter().GetResult();
            return 0;
        });
        return command;
    }
}
