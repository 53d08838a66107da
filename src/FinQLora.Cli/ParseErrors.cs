using System.CommandLine;
using System.CommandLine.Parsing;
using FinQLora.Config;

namespace FinQLora.Cli;

/// <summary>
/// Command-line mistakes (a value of the wrong type, an unknown option, a misspelt command, a missing required
/// option) as one line naming the option and what it expects, plus "see finqlora CMD --help"; exit code 2.
/// System.CommandLine's own handling prints the whole help and exits 1.
/// </summary>
internal static class ParseErrors
{
    public const int ExitCode = 2;

    /// <summary>The one line for the first error of <paramref name="parse"/> (which has errors).</summary>
    public static string Describe(ParseResult parse)
    {
        var command = parse.CommandResult.Command;
        var help = $"see {CommandPath(command)} --help";
        var error = parse.Errors[0];
        var option = error.SymbolResult switch
        {
            OptionResult o => o,
            ArgumentResult { Parent: OptionResult o } => o,
            _ => null,
        };
        if (option is not null && error.Message.StartsWith("Cannot parse argument", StringComparison.Ordinal))
        {
            var value = option.Tokens.Count > 0 ? option.Tokens[^1].Value : "";
            return $"{option.Option.Name} {Quote(value)}: expected {Expected(option.Option.ValueType)}; {help}";
        }
        if (parse.UnmatchedTokens.Count > 0 || error.Message.StartsWith("Unrecognized command or argument", StringComparison.Ordinal))
        {
            var token = parse.UnmatchedTokens.Count > 0 ? parse.UnmatchedTokens[0] : "";
            if (token.StartsWith('-'))
                return $"unknown option {Quote(token)} for {CommandPath(command)}{Suggest(token, command.Options.Concat(CliOptions.All(command)).SelectMany(o => new[] { o.Name }.Concat(o.Aliases)))}; {help}";
            if (command.Subcommands.Count > 0)
                return $"unknown command {Quote(token)}{Suggest(token, command.Subcommands.Select(c => c.Name))}; {help}";
            return $"unexpected argument {Quote(token)} for {CommandPath(command)} (options take the form --name value); {help}";
        }
        if (error.Message.StartsWith("Required command was not provided", StringComparison.Ordinal))
            return $"{CommandPath(command)} needs a command: {string.Join(", ", command.Subcommands.Select(c => c.Name))}; {help}";
        if (error.Message.StartsWith("Option '", StringComparison.Ordinal) && error.Message.Contains("is required", StringComparison.Ordinal) && option is not null)
            return $"{CommandPath(command)} needs {option.Option.Name}; {help}";
        if (error.Message.StartsWith("Required argument missing", StringComparison.Ordinal) && option is not null)
            return $"{option.Option.Name} needs {Expected(option.Option.ValueType)} after it; {help}";
        return $"{error.Message.TrimEnd('.')}; {help}";
    }

    /// <summary>"finqlora data stats" for the stats command under data.</summary>
    public static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = c.Parents.FirstOrDefault())
            names.Insert(0, c is RootCommand ? "finqlora" : c.Name);
        return string.Join(' ', names);
    }

    private static string Expected(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        if (t == typeof(int) || t == typeof(long)) return "a whole number";
        if (t == typeof(double) || t == typeof(float)) return "a number";
        if (t == typeof(bool)) return "true or false";
        if (t == typeof(string[])) return "one or more values";
        return "a value";   // strings: the command checks what it expects
    }

    private static string Suggest(string token, IEnumerable<string> known)
    {
        var best = known.Select(k => (k, d: DidYouMean.Distance(token.ToLowerInvariant(), k))).Where(x => x.d <= Math.Max(2, x.k.Length / 3))
            .OrderBy(x => x.d).ThenBy(x => x.k, StringComparer.Ordinal).FirstOrDefault();
        return best.k is null ? "" : $" (did you mean '{best.k}'?)";
    }

    private static string Quote(string value) => $"'{CliRunner.Printable(value)}'";
}
