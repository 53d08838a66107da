using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace FinQLora.Server;

/// <summary>What serve-bench runs: at each concurrency, that many clients each send <see cref="RequestsPerClient"/> streamed completions one after another.</summary>
public sealed record ServeBenchSettings(Uri Url, IReadOnlyList<int> Concurrency, int RequestsPerClient = 2, int PromptTokens = 256, int MaxTokens = 128,
    string? Model = null, string? ApiKey = null);

/// <summary>One concurrency level's result (a JSON line).</summary>
public sealed record ServeBenchResult(int Concurrency, int Requests, int Failed, long PromptTokens, long CompletionTokens, double WallS,
    double TokensPerS, double RequestsPerS, double TtftP50Ms, double TtftP95Ms, double LatencyP50Ms, double LatencyP95Ms, double TpotMs);

/// <summary>
/// Drives a running `finqlora serve` (or any OpenAI-compatible server) with N concurrent clients over
/// POST /v1/completions, stream: true, greedy, ignore_eos (every request makes exactly max_tokens tokens),
/// and measures output tokens per second, time to first token and latency.
/// </summary>
public static class ServeBench
{
    public static async Task<IReadOnlyList<ServeBenchResult>> Run(ServeBenchSettings s, Action<ServeBenchResult> onResult)
    {
        using var http = new HttpClient { BaseAddress = s.Url, Timeout = TimeSpan.FromMinutes(10) };
        if (s.ApiKey is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", s.ApiKey);
        var model = s.Model ?? (await Json(http, "v1/models"))["data"]![0]!["id"]!.GetValue<string>();
        // about one token per word: " revenue" repeated (the server reports the exact count)
        string prompt = "Quarterly report:" + string.Concat(Enumerable.Repeat(" revenue", Math.Max(1, s.PromptTokens - 4)));
        await One(http, model, prompt, Math.Min(4, s.MaxTokens));   // warm-up
        var results = new List<ServeBenchResult>();
        foreach (int c in s.Concurrency)
        {
            var clock = Stopwatch.StartNew();
            var runs = await Task.WhenAll(Enumerable.Range(0, c).Select(async _ =>
            {
                var list = new List<Sample?>();
                for (int i = 0; i < s.RequestsPerClient; i++) list.Add(await One(http, model, prompt, s.MaxTokens));
                return list;
            }));
            double wall = clock.Elapsed.TotalSeconds;
            var ok = runs.SelectMany(x => x).OfType<Sample>().ToList();
            int failed = runs.Sum(x => x.Count(y => y is null));
            long completion = ok.Sum(x => (long)x.CompletionTokens);
            var r = new ServeBenchResult(c, c * s.RequestsPerClient, failed, ok.Sum(x => (long)x.PromptTokens), completion, Math.Round(wall, 3),
                Math.Round(completion / wall, 1), Math.Round(ok.Count / wall, 3),
                Pct(ok.Select(x => x.TtftMs), 50), Pct(ok.Select(x => x.TtftMs), 95), Pct(ok.Select(x => x.LatencyMs), 50), Pct(ok.Select(x => x.LatencyMs), 95),
                Math.Round(ok.Where(x => x.CompletionTokens > 1).Select(x => (x.LatencyMs - x.TtftMs) / (x.CompletionTokens - 1)).DefaultIfEmpty(0).Average(), 2));
            results.Add(r);
            onResult(r);
        }
        return results;
    }

    private sealed record Sample(int PromptTokens, int CompletionTokens, double TtftMs, double LatencyMs);

    /// <summary>One streamed completion: time to the first text, total time and the usage the server reports; null when it failed.</summary>
    private static async Task<Sample?> One(HttpClient http, string model, string prompt, int maxTokens)
    {
        var body = new JsonObject
        {
            ["model"] = model, ["prompt"] = prompt, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["stream"] = true,
            ["ignore_eos"] = true, ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            Console.Error.WriteLine($"serve-bench: HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            return null;
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        double? ttft = null;
        JsonNode? usage = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal) || line == "data: [DONE]") continue;
            var o = JsonNode.Parse(line[6..])!;
            if (o["usage"] is { } u) usage = u;
            if (ttft is null && o["choices"] is JsonArray { Count: > 0 } ch && ch[0]!["text"]?.GetValue<string>() is { Length: > 0 }) ttft = clock.Elapsed.TotalMilliseconds;
        }
        double total = clock.Elapsed.TotalMilliseconds;
        if (usage is null) return null;
        return new Sample(usage["prompt_tokens"]!.GetValue<int>(), usage["completion_tokens"]!.GetValue<int>(), ttft ?? total, total);
    }

    private static async Task<JsonNode> Json(HttpClient http, string path)
    {
        using var response = await http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new FinQLoraException($"serve-bench: GET {http.BaseAddress}{path}: HTTP {(int)response.StatusCode}: {text}", exitCode: 3);
        return JsonNode.Parse(text)!;
    }

    private static double Pct(IEnumerable<double> values, int p)
    {
        var sorted = values.OrderBy(x => x).ToList();
        if (sorted.Count == 0) return 0;
        return Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)], 1);
    }
}
