using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Text;

namespace FinQLora.Inference;

/// <summary>A loaded model with its tokenizer: what score, generate and evaluate work on.</summary>
public sealed class ModelBundle(LlamaForCausalLM model, LlamaTokenizer tokenizer) : IDisposable
{
    public LlamaForCausalLM Model { get; } = model;
    public LlamaTokenizer Tokenizer { get; } = tokenizer;

    public const string RandomPrefix = "random:";

    /// <summary>
    /// Loads a Hugging Face folder; checks that the tokenizer fits the embedding table.
    /// "random:SHAPE" (llama3.1-8b, tiny, or a config.json path) builds seeded random weights of that shape
    /// directly on the device, with the bundled Llama-3 tokenizer: for benchmarks and memory tests.
    /// The model comes in eval mode (no LoRA dropout in score, generate, evaluate); the trainer calls train().
    /// </summary>
    public static ModelBundle Load(string dir, ModelLoadOptions options)
    {
        var bundle = LoadTrainMode(dir, options);
        bundle.Model.eval();
        return bundle;
    }

    private static ModelBundle LoadTrainMode(string dir, ModelLoadOptions options)
    {
        if (dir.StartsWith(RandomPrefix, StringComparison.Ordinal))
        {
            var shape = ModelShapes.Resolve(dir[RandomPrefix.Length..]);
            return new ModelBundle(LlamaBuilder.Random(shape, options), LlamaTokenizer.Llama3());
        }
        var tokenizer = LlamaTokenizer.FromModelDirectory(dir);
        var config = LlamaConfig.Load(dir);
        if (tokenizer.VocabSize > config.VocabSize)
            throw new FinQLoraException($"{dir}: the tokenizer has {tokenizer.VocabSize} tokens but the model's vocab_size is {config.VocabSize}: tokenizer and model do not belong together");
        return new ModelBundle(LlamaBuilder.Load(dir, config, options), tokenizer);   // config.json read once
    }

    /// <summary>Token ids of a prompt, plain (BOS + text) or wrapped in the Llama-3.1 chat format.</summary>
    public int[] EncodePrompt(string prompt, bool chat, string? system = null)
    {
        if (!chat) return Tokenizer.Encode(prompt, addBos: true);
        var messages = new List<ChatMessage>();
        if (!string.IsNullOrEmpty(system)) messages.Add(new ChatMessage("system", system));
        messages.Add(new ChatMessage("user", prompt));
        ChatFormat.RequireTokens(Tokenizer, "the model's tokenizer");
        return Tokenizer.Encode(ChatFormat.Render(messages, addGenerationPrompt: true), addBos: false);
    }

    public void Dispose() => Model.Dispose();
}
