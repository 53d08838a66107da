using System.Text;
using FinQLora.Hub;
using FinQLora.Tests.Cli;
using FinQLora.Tests.Data;

namespace FinQLora.Tests.Hub;

/// <summary>docs/ERRORS.md, "Security": the token never shows in a printed record, and a token that cannot be an HTTP header value, or a token file that is not one, is refused with exit 2 naming its source.</summary>
public class HubTokenTests
{
    private const string Secret = "hf_token_secret_0123456789";

    [Fact]
    public void Printing_the_settings_shows_whether_a_token_is_set_but_never_the_token()
    {
        var with = new HubSettings { Token = Secret, TokenSource = "HF_TOKEN" }.ToString();
        Assert.DoesNotContain(Secret, with);
        Assert.Contains("Token = ***,", with);
        Assert.Contains("Endpoint = https://huggingface.co,", with);
        Assert.Contains("Token = (none),", new HubSettings().ToString());
    }

    [Theory]
    [InlineData("hf_token\nsecret_0123456789", "a line break")]
    [InlineData("hf_token\r\nsecret_0123456789", "a line break")]
    [InlineData("hf_token\0secret_0123456789", "a NUL character")]
    [InlineData("hf_token\u001bsecret_0123456789", "a control character")]
    public void A_token_that_cannot_go_into_a_header_is_refused_naming_its_source(string token, string what)
    {
        var fromEnv = Assert.Throws<FinQLoraException>(() => HubSettings.FromEnvironment(k => k == "HF_TOKEN" ? token : null, _ => null));
        Assert.Equal(2, fromEnv.ExitCode);
        Assert.StartsWith($"the Hub token from HF_TOKEN contains {what};", fromEnv.Message);
        Assert.DoesNotContain("secret", fromEnv.Message);

        var fromFile = Assert.Throws<FinQLoraException>(() => HubSettings.FromEnvironment(k => k == "HF_TOKEN_PATH" ? "/t/token" : null, p => p == "/t/token" ? token + "\n" : null));
        Assert.Equal(2, fromFile.ExitCode);
        Assert.StartsWith($"the Hub token from the token file /t/token contains {what};", fromFile.Message);
        Assert.DoesNotContain("secret", fromFile.Message);
    }

    [Fact]
    public void A_token_with_a_line_break_ends_the_cli_with_exit_2_and_is_not_printed()
    {
        using var server = new HubTestServer();
        var env = new Dictionary<string, string> { ["HF_ENDPOINT"] = server.Endpoint, ["HF_TOKEN"] = "hf_line\nbreak_" + Secret, ["HF_HOME"] = Fixtures.TempDir() };
        var r = CliProcess.RunWith(env, "--verbose", "prepare-data", "--tasks", "fpb", "--output", Fixtures.TempDir(), "--allow-http");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("error: the Hub token from HF_TOKEN contains a line break;", r.Stderr);
        Assert.DoesNotContain(Secret, r.Stdout + r.Stderr);
        Assert.DoesNotContain("hf_line", r.Stdout + r.Stderr);
        Assert.Empty(server.Requests);
    }

    [Fact]
    public void A_token_file_over_64_KiB_is_refused_and_a_normal_one_is_read()
    {
        var dir = Fixtures.TempDir();
        var big = Path.Combine(dir, "big-token");
        File.WriteAllText(big, new string('a', (64 << 10) + 1));
        var e = Assert.Throws<FinQLoraException>(() => HubSettings.FromEnvironment(k => k == "HF_TOKEN_PATH" ? big : null));
        Assert.Equal(2, e.ExitCode);
        Assert.StartsWith($"the Hub token file {big} is larger than 64 KiB", e.Message);

        var exact = Path.Combine(dir, "exact-token");
        File.WriteAllBytes(exact, Encoding.ASCII.GetBytes(new string('b', 64 << 10)));   // 64 KiB exactly is still read
        Assert.Equal(64 << 10, HubSettings.FromEnvironment(k => k == "HF_TOKEN_PATH" ? exact : null).Token!.Length);

        var normal = Path.Combine(dir, "token");
        File.WriteAllText(normal, Secret + "\n");
        var s = HubSettings.FromEnvironment(k => k == "HF_TOKEN_PATH" ? normal : null);
        Assert.Equal((Secret, normal), (s.Token, s.TokenSource));
    }
}
