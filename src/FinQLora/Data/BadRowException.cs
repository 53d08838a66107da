namespace FinQLora.Data;

/// <summary>
/// A data row that cannot be read (file:line and why). Its message carries no advice on skipping: what skips
/// bad rows depends on who read them (prepare-data's flag, train's data.skip_bad_rows, nothing in evaluate),
/// so the caller that knows adds it with <see cref="WithHint"/>.
/// </summary>
public sealed class BadRowException(string message) : FinQLoraException(message)
{
    public FinQLoraException WithHint(string hint) => new($"{Message} ({hint})", ExitCode, this);
}
