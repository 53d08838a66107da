namespace FinQLora.Server;

/// <summary>
/// Where and how the OpenAI-compatible server listens. <see cref="ApiKey"/>: when set, every /v1 request must
/// send "Authorization: Bearer KEY" (the key is compared in constant time and never logged).
/// <see cref="MaxBodyBytes"/>: larger request bodies are refused with 413 before they are read.
/// <see cref="Log"/> gets one access line per request (method, path, status, model, token counts, time; never headers).
/// </summary>
public sealed record ServeSettings(string Host = "127.0.0.1", int Port = 8000, string? ApiKey = null, long MaxBodyBytes = 1 << 20,
    Action<string>? Log = null)
{
    /// <summary>Reads the key from its file: one line, at most 4 KiB; the message names the file, never its content.</summary>
    public static string ReadApiKeyFile(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FinQLoraException($"API key file {path} does not exist", exitCode: 2);
        var key = FinQLora.IO.InputFile.ReadText(path, 4096, tooLarge: _ =>
            new FinQLoraException($"API key file {path} is larger than 4 KiB, so it is not a key file", exitCode: 2)).Trim();
        if (key.Length == 0) throw new FinQLoraException($"API key file {path} is empty; write the key on its first line", exitCode: 2);
        if (key.Any(c => char.IsControl(c) || c == ' ')) throw new FinQLoraException($"API key file {path}: the key must be one line of printable characters without spaces", exitCode: 2);
        return key;
    }
}
