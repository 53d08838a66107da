namespace FinQLora;

/// <summary>
/// An error the user can act on: the CLI prints its message as one line (no stack trace unless
/// --verbose) and exits with <see cref="ExitCode"/>.
/// </summary>
public class FinQLoraException(string message, int exitCode = 1, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;
}
