using System.CommandLine;
using System.Globalization;
using FinQLora.Tasks;

namespace FinQLora.Cli;

/// <summary>
/// Value rules for options, checked while the command line is parsed (before anything is loaded or written):
/// a value outside its rule is a parse error, which <see cref="ParseErrors"/> prints as one line with exit code 2.
/// One mechanism for every command: declare the rule where the option is declared.
/// </summary>
internal static class OptionRules
{
    /// <summary>A whole number of at least <paramref name="min"/> (null, for an optional option, passes).</summary>
    public static T AtLeast<T>(this T option, long min) where T : Option
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var text = result.Tokens[^1].Value;
            if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v < min)
                result.AddError($"{option.Name} {text}: must be at least {min}");
        });
        return option;
    }

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>], or (<paramref name="min"/>, …] when <paramref name="minExclusive"/>.</summary>
    public static Option<double> Within(this Option<double> option, double min, double max, bool minExclusive = false)
    {
        option.Validators.Add(result =>
        {
            // a value that is not a number at all is the parser's error ("expected a number")
            if (result.Tokens.Count == 0 || !double.TryParse(result.Tokens[^1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v)) return;
            bool low = minExclusive ? v > min : v >= min;
            if (!double.IsFinite(v) || !low || v > max)
                result.AddError(double.IsPositiveInfinity(max) || max == double.MaxValue
                    ? $"{option.Name} {result.Tokens[^1].Value}: must be a finite number {(minExclusive ? ">" : ">=")} {F(min)}"
                    : $"{option.Name} {result.Tokens[^1].Value}: must be a number in {(minExclusive ? "(" : "[")}{F(min)}, {F(max)}]");
        });
        return option;
    }

    /// <summary>One of <paramref name="values"/> (case-insensitive).</summary>
    public static Option<string> OneOf(this Option<string> option, params string[] values)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var v = result.Tokens[^1].Value;
            if (!values.Contains(v, StringComparer.OrdinalIgnoreCase))
                result.AddError($"{option.Name} '{CliRunner.Printable(v)}': expected {Join(values)}");
        });
        return option;
    }

    /// <summary>"all" or a comma-separated list of known FLARE task names, not empty.</summary>
    public static Option<string> Tasks(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var v = result.Tokens[^1].Value;
            var names = v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (names.Length == 0) { result.AddError($"{option.Name} is empty: give all, or task names such as fpb,ner"); return; }
            if (names.Length == 1 && names[0].Equals("all", StringComparison.OrdinalIgnoreCase)) return;
            var known = FlareTasks.All.Select(t => t.Name).ToList();
            foreach (var n in names.Where(n => !known.Contains(n, StringComparer.OrdinalIgnoreCase)))
            {
                var near = known.MinBy(k => Config.DidYouMean.Distance(n.ToLowerInvariant(), k))!;
                var hint = Config.DidYouMean.Distance(n.ToLowerInvariant(), near) <= 2 ? $" (did you mean '{near}'?)" : "";
                result.AddError($"{option.Name}: unknown task '{CliRunner.Printable(n)}'{hint}; known tasks: all, {string.Join(", ", known)}");
                return;
            }
        });
        return option;
    }

    /// <summary>A model shape: llama3.1-8b (or an alias), tiny, or an existing config.json or its folder.</summary>
    public static Option<string?> Shape(this Option<string?> option)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var v = result.Tokens[^1].Value;
            if (v.ToLowerInvariant() is not ("llama3.1-8b" or "llama-3.1-8b" or "llama3-8b" or "8b" or "tiny") && !File.Exists(v) && !Directory.Exists(v))
                result.AddError($"{option.Name} '{CliRunner.Printable(v)}': expected llama3.1-8b, tiny, or the path of a config.json (no such file)");
        });
        return option;
    }

    /// <summary>LoRA target modules: comma-separated projection names, or all-linear.</summary>
    public static Option<string> Targets(this Option<string> option)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 0) return;
            var names = result.Tokens[^1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var known = Model.LlamaProjections.Names;
            var unknown = names.Where(n => n != "all-linear" && !known.Contains(n)).ToList();
            if (names.Length == 0 || unknown.Count > 0)
                result.AddError($"{option.Name}: {(names.Length == 0 ? "empty" : $"unknown target(s) {string.Join(", ", unknown.Select(CliRunner.Printable))}")}; expected {string.Join(", ", known)} (comma-separated) or all-linear");
        });
        return option;
    }

    private static string Join(IReadOnlyList<string> values) =>
        values.Count == 1 ? values[0] : string.Join(", ", values.Take(values.Count - 1)) + " or " + values[^1];

    private static string F(double v) => v.ToString(CultureInfo.InvariantCulture);
}
