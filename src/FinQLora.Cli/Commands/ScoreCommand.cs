using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinQLora.Inference;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora score`: log-probabilities of completions given prompts, one JSON line in, one out.</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var input = new Option<string>("--input") { Description = "JSONL file; each line {\"prompt\": ..., \"completion\": ...}.", Required = true };
        var output = new Option<string?>("--output") { Description = "Write results here instead of stdout." };
        var maxLength = new Option<int>("--max-length") { Description = "Longest prompt + completion in tokens; a longer row is refused before any is scored.", DefaultValueFactory = _ => 8192 }.AtLeast(2);
        var batch = new Option<int>("--batch-size") { Description = "Rows per forward pass.", DefaultValueFactory = _ => 8 }.AtLeast(1);
        var command = new Command("score", "Sum of log p(completion | prompt) for each line of a JSONL file; adds \"logprob\" and \"n_tokens\".");
        model.AddTo(command);
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(batch);
        command.Options.Add(maxLength);
        command.SetAction(parse =>
        {
            var path = parse.GetValue(input)!;
            var rows = ReadRows(path);
            using var bundle = model.Load(parse);
            var encoded = rows.Select(r => (Prompt: bundle.Tokenizer.Encode(r.Prompt, addBos: true), Completion: bundle.Tokenizer.Encode(r.Completion, addBos: false))).ToList();
            int cap = parse.GetValue(maxLength);
            for (int i = 0; i < rows.Count; i++)
                if (encoded[i].Prompt.Length + encoded[i].Completion.Length is var n && n > cap)
                    throw new FinQLoraException($"{path}:{rows[i].LineNo}: prompt + completion is {n:N0} tokens, more than --max-length {cap:N0}: shorten the row or raise --max-length (nothing was scored)", exitCode: 2);
            var scores = Scorer.ScoreIds(bundle.Model, encoded, bundle.Tokenizer.PadId, parse.GetValue(batch));
            void WriteTo(Stream stream)
            {
                using var writer = new StreamWriter(stream, new System.Text.UTF8Encoding(false), leaveOpen: true);
                for (int i = 0; i < rows.Count; i++)
                {
                    rows[i].Json["logprob"] = scores[i].LogProb;
                    rows[i].Json["n_tokens"] = scores[i].NTokens;
                    writer.WriteLine(rows[i].Json.ToJsonString());
                }
            }
            if (parse.GetValue(output) is { } o)
            {
                FinQLora.IO.AtomicFile.Write(o, WriteTo);
                Console.Error.WriteLine($"wrote {Path.GetFullPath(o)} ({rows.Count} row(s) scored)");
            }
            else
            {
                using var stdout = Console.OpenStandardOutput();
                WriteTo(stdout);
            }
            return 0;
        });
        return command;
    }

    private sealed record Row(JsonObject Json, string Prompt, string Completion, int LineNo);

    private static List<Row> ReadRows(string path)
    {
        if (!File.Exists(path)) throw new FinQLoraException($"{path}: input file not found");
        var rows = new List<Row>();
        foreach (var (lineNo, line) in FinQLora.IO.LineReader.Read(path))
        {
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonObject? o;
            try { o = FinQLora.IO.JsonFile.ParseNode(line) as JsonObject; }
            catch (JsonException e) { throw new FinQLoraException($"{path}:{lineNo}: invalid JSON ({FinQLora.IO.JsonFile.OneLine(e.Message)})"); }
            if (o is null) throw new FinQLoraException($"{path}:{lineNo}: expected a JSON object");
            string Field(string name) => o[name] is JsonValue v && v.TryGetValue<string>(out var s) ? s
                : throw new FinQLoraException($"{path}:{lineNo}: \"{name}\" must be a string");
            rows.Add(new Row(o, Field("prompt"), Field("completion"), lineNo));
        }
        return rows;
    }
}
