using System.Text;
using System.Text.RegularExpressions;
using FinQLora.Hub;
using FinQLora.Tests.Cli;
using FinQLora.Tests.Data;

namespace FinQLora.Tests.Hub;

/// <summary>
/// docs/ERRORS.md, "Security": the Hub token is found where huggingface_hub keeps it and is never printed
/// or written; plain HTTP only to this machine on request; nothing deserializes a pickle.
/// </summary>
public class HubSecurityTests
{
    private static Dictionary<string, string> Env(HubTestServer server, string? token, string hfHome) =>
        new() { ["HF_ENDPOINT"] = server.Endpoint, ["HF_TOKEN"] = token ?? "", ["HF_HOME"] = hfHome };

    /// <summary>The token's bytes appear in no file under <paramref name="dirs"/> (downloads, manifest, logs, partial files).</summary>
    private static void NotInAnyFile(string token, params string[] dirs)
    {
        var needle = Encoding.UTF8.GetBytes(token);
        foreach (var f in dirs.SelectMany(d => Directory.EnumerateFiles(d, "*", SearchOption.AllDirectories)))
            Assert.True(File.ReadAllBytes(f).AsSpan().IndexOf(needle) < 0, $"the token was written to {f}");
    }

    private static HubTestServer PrivateFpb()
    {
        var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)) { DropFirstAfter = 40 }, isPrivate: true);
        return server;
    }

    [Fact]
    public void The_token_is_never_printed_or_written_even_verbose_and_on_errors()
    {
        using var server = PrivateFpb();
        var home = Fixtures.TempDir();
        var output = Fixtures.TempDir();
        var ok = CliProcess.RunWith(Env(server, HubTestServer.Token, home), "--verbose", "prepare-data", "--tasks", "fpb", "--output", output, "--allow-http");
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Contains("(token from HF_TOKEN)", ok.Stderr);
        Assert.True(server.Requests.Where(r => r.Status is 200 or 206).All(r => r.HadToken));   // it was sent, resumed request included
        Assert.DoesNotContain(HubTestServer.Token, ok.Stdout + ok.Stderr);
        NotInAnyFile(HubTestServer.Token, output, home);

        const string wrong = "hf_wrong_but_secret_0123456789";
        var output2 = Fixtures.TempDir();
        var denied = CliProcess.RunWith(Env(server, wrong, home), "--verbose", "prepare-data", "--tasks", "fpb", "--output", output2, "--allow-http");
        Assert.Equal(3, denied.ExitCode);
        Assert.Contains("HTTP 401: the token from HF_TOKEN was refused", denied.Stderr);
        Assert.Contains("   at ", denied.Stderr);   // --verbose really printed the stack trace
        Assert.DoesNotContain(wrong, denied.Stdout + denied.Stderr);
        NotInAnyFile(wrong, output2, home);
    }

    [Fact]
    public void The_token_file_of_huggingface_cli_login_is_used_when_HF_TOKEN_is_unset()
    {
        using var server = PrivateFpb();
        var home = Fixtures.TempDir();
        var tokenFile = Path.Combine(home, "token");
        File.WriteAllText(tokenFile, HubTestServer.Token + "\n");
        var output = Fixtures.TempDir();
        var r = CliProcess.RunWith(Env(server, null, home), "--verbose", "prepare-data", "--tasks", "fpb", "--output", output, "--allow-http");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains($"(token from {tokenFile})", r.Stderr);
        Assert.DoesNotContain(HubTestServer.Token, r.Stdout + r.Stderr);
        NotInAnyFile(HubTestServer.Token, output);
        Assert.Equal(3, File.ReadAllLines(Path.Combine(output, "fpb", "test.jsonl")).Length);
    }

    [Fact]
    public void The_token_is_looked_up_in_huggingface_hubs_order()
    {
        var files = new Dictionary<string, string>
        {
            ["/custom/token"] = "from_token_path", ["/hf/token"] = "from_hf_home", ["/xdg/huggingface/token"] = "from_xdg", ["/home/u/.cache/huggingface/token"] = "from_home",
        };
        (string? Token, string Source) Find(params (string Key, string Value)[] env)
        {
            var map = env.ToDictionary(e => e.Key, e => e.Value);
            map.TryAdd("HOME", "/home/u");
            var s = HubSettings.FromEnvironment(k => map.GetValueOrDefault(k), p => files.GetValueOrDefault(p));
            return (s.Token, s.TokenSource);
        }
        Assert.Equal(("hf_env", "HF_TOKEN"), Find(("HF_TOKEN", " hf_env "), ("HF_TOKEN_PATH", "/custom/token")));
        Assert.Equal(("from_token_path", "/custom/token"), Find(("HF_TOKEN_PATH", "/custom/token"), ("HF_HOME", "/hf")));
        Assert.Equal(("from_hf_home", "/hf/token"), Find(("HF_HOME", "/hf"), ("XDG_CACHE_HOME", "/xdg")));
        Assert.Equal(("from_xdg", "/xdg/huggingface/token"), Find(("XDG_CACHE_HOME", "/xdg")));
        Assert.Equal(("from_home", "/home/u/.cache/huggingface/token"), Find());
        Assert.Null(Find(("HOME", "/nobody")).Token);
    }

    [Fact]
    public void Plain_http_needs_the_flag_and_this_machine()
    {
        using var server = new HubTestServer();
        var home = Fixtures.TempDir();
        var local = CliProcess.RunWith(Env(server, null, home), "prepare-data", "--tasks", "fpb", "--output", Fixtures.TempDir());
        Assert.Equal(2, local.ExitCode);
        Assert.Contains("error: refusing plain HTTP to 127.0.0.1: pass --allow-http to use a Hub server on this machine", local.Stderr);
        Assert.Empty(server.Requests);

        var remote = CliProcess.RunWith(new Dictionary<string, string> { ["HF_ENDPOINT"] = "http://hub.example.com", ["HF_TOKEN"] = "", ["HF_HOME"] = home },
            "prepare-data", "--tasks", "fpb", "--output", Fixtures.TempDir(), "--allow-http");
        Assert.Equal(2, remote.ExitCode);
        Assert.Contains("error: refusing http:// to hub.example.com: the Hub is reached over HTTPS only (plain HTTP only to this machine, with --allow-http)", remote.Stderr);
    }

    [Fact]
    public void No_source_file_can_deserialize_a_pickle_or_arbitrary_types()
    {
        // TorchSharp's torch.load / Module.load, .NET's type-carrying serializers and any unpickler: none may appear.
        var forbidden = new Regex(@"torch\.load\(|\.load\(\s*@?""|BinaryFormatter|NetDataContractSerializer|SoapFormatter|TypeNameHandling|Unpickl|ObjectStateFormatter|LosFormatter");
        var src = Path.Combine(CliProcess.RepoRoot(), "src");
        var hits = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => forbidden.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.Empty(hits);
    }
}
