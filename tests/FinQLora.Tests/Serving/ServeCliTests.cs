using System.ClientModel;
using System.ClientModel.Primitives;
using System.Text.RegularExpressions;
using FinQLora.Tests.Cli;
using OpenAI;
using OpenAI.Chat;

namespace FinQLora.Tests.Serving;

/// <summary>The real `finqlora serve` program: starts, prints where it listens, answers with the key, refuses without it.</summary>
public sealed class ServeCliTests
{
    [Fact]
    public async Task Serve_on_the_tiny_model_answers_an_openai_client_with_the_key_and_never_prints_the_key()
    {
        var dir = Fixtures.TempDir();
        const string key = "sk-cli-secret-5d1e";
        var keyFile = Path.Combine(dir, "key.txt");
        File.WriteAllText(keyFile, key + "\n");
        using var serve = CliProcess.Start(new Dictionary<string, string>(), "serve", "--model", "tiny", "--port", "0", "--api-key-file", keyFile,
            "--max-batch", "2", "--max-context", "512", "--verbose");
        var line = serve.WaitForLine(l => l.StartsWith("serving ", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
        Assert.NotNull(line);
        Assert.Contains("'tiny'", line);
        Assert.Contains("API key required", line);
        var url = Regex.Match(line, @"http://127\.0\.0\.1:\d+/v1").Value;

        OpenAIClient Client(string k) => new(new ApiKeyCredential(k), new OpenAIClientOptions { Endpoint = new Uri(url), RetryPolicy = new ClientRetryPolicy(0) });
        ChatCompletion answer = await Client(key).GetChatClient("tiny").CompleteChatAsync([new UserChatMessage("Rise or fall?")],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 5 });
        Assert.True(answer.Usage.OutputTokenCount is > 0 and <= 5);
        Assert.Equal(401, (await Assert.ThrowsAsync<ClientResultException>(() => Client("sk-not-it").GetChatClient("tiny").CompleteChatAsync([new UserChatMessage("hi")]))).Status);

        serve.Kill();
        var (_, output) = serve.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.Contains("POST /v1/chat/completions 200", output);
        Assert.Contains("POST /v1/chat/completions 401", output);
        Assert.DoesNotContain(key, output);
        Assert.DoesNotContain("sk-not-it", output);
    }

    [Fact]
    public void A_bad_adapter_argument_or_key_file_ends_with_exit_2_naming_it()
    {
        var r = CliProcess.Run("serve", "--model", Fixtures.TinyModel, "--adapter", "fin=/no/such/adapter", "--port", "0");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("error: --adapter fin=/no/such/adapter: the folder /no/such/adapter does not exist", r.Stderr);
        var twice = CliProcess.Run("serve", "--model", Fixtures.TinyModel, "--adapter", $"a={Fixtures.Parity("adapter-a")}", "--adapter", $"a={Fixtures.Parity("adapter-b")}", "--port", "0");
        Assert.Equal(2, twice.ExitCode);
        Assert.Contains("two served models are named 'a'", twice.Stderr);
        var noKey = CliProcess.Run("serve", "--model", Fixtures.TinyModel, "--api-key-file", "/no/such/key", "--port", "0");
        Assert.Equal(2, noKey.ExitCode);
        Assert.Contains("API key file /no/such/key does not exist", noKey.Stderr);
    }
}
