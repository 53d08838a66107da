using System.CommandLine;
using System.Text.Json;
using FinQLora.Inference;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora generate`: greedy or sampled continuation of one prompt.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new ModelOptions();
        var prompt = new Option<string>("--prompt") { Description = "The prompt text.", Required = true };
        var chat = new Option<bool>("--chat") { Description = "Wrap the prompt in the Llama-3.1 Instruct chat format." };
        var system = new Option<string?>("--system") { Description = "System message (with --chat)." };
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Most tokens to generate.", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy; above 0 samples.", DefaultValueFactory = _ => 0.0 }.Within(0, double.MaxValue);
        var topP = new Option<double>("--top-p") { Description = "Nucleus sampling mass in (0, 1] (with --temperature > 0).", DefaultValueFactory = _ => 1.0 }.Within(0, 1, minExclusive: true);
        var seed = new Option<long>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 0L };
        var json = new Option<bool>("--json") { Description = "Print {\"text\": ..., \"token_ids\": [...]} for the generated tokens." };
        var command = new Command("generate", "Generate a continuation of a prompt (greedy by default), stopping at the tokenizer's end tokens.");
        model.AddTo(command);
        foreach (var o in new Option[] { prompt, chat, system, maxNew, temperature, topP, seed, json }) command.Options.Add(o);
        command.SetAction(parse =>
        {
            var options = new GenerationOptions(parse.GetValue(maxNew), parse.GetValue(temperature), parse.GetValue(topP), parse.GetValue(seed));
            using var bundle = model.Load(parse);
            var ids = bundle.EncodePrompt(parse.GetValue(prompt)!, parse.GetValue(chat), parse.GetValue(system));
            var result = TextGenerator.Generate(bundle.Model, [ids], bundle.Tokenizer.StopIds, bundle.Tokenizer.PadId, options)[0];
            var text = bundle.Tokenizer.Decode(result.TokenIds);
            Console.WriteLine(parse.GetValue(json) ? JsonSerializer.Serialize(new { text, token_ids = result.TokenIds }) : text);
            return 0;
        });
        return command;
    }
}
