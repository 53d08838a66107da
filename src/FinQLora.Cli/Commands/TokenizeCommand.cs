using System.CommandLine;
using System.Text.Json;
using FinQLora.Model;
using FinQLora.Text;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora tokenize`: the token ids of a text as a JSON array.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder with tokenizer.json or tokenizer.model (\"tiny\" = the quickstart model).", Required = true };
        var text = new Option<string>("--text") { Description = "The text to tokenize.", Required = true };
        var noSpecial = new Option<bool>("--no-special") { Description = "Do not prepend BOS." };
        var command = new Command("tokenize", "Print the token ids of a text as a JSON array (BOS first unless --no-special).") { model, text, noSpecial };
        command.SetAction(parse =>
        {
            var tokenizer = LlamaTokenizer.FromModelDirectory(TinyModel.Resolve(parse.GetValue(model)!, msg => Console.Error.WriteLine(msg)));
            Console.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(parse.GetValue(text)!, addBos: !parse.GetValue(noSpecial))));
            return 0;
        });
        return command;
    }
}
