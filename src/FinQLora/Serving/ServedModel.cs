using System.Text.RegularExpressions;
using FinQLora.Adapters;
using FinQLora.Inference;
using FinQLora.Text;

namespace FinQLora.Serving;

/// <summary>A LoRA adapter to serve under <paramref name="Name"/> (the request's "model"), from a PEFT folder.</summary>
public sealed record AdapterSpec(string Name, string Dir);

/// <summary>
/// A base model with named adapters attached (frozen), and the checks that turn a caller's request into a
/// <see cref="CompletionRequest"/>: model name, chat roles, context length, token cap, sampling ranges.
/// The HTTP server and <see cref="FinQLoraChatClient"/> both go through here.
/// </summary>
public sealed partial class ServedModel : IDisposable
{
    public ModelBundle Bundle { get; }
    public string BaseId { get; }
    public IReadOnlyList<string> Adapters { get; }
    public ServingLimits Limits { get; }

    /// <summary>Prompt plus new tokens must fit this: the limit's max context, capped by the model's max_position_embeddings.</summary>
    public int ContextLength { get; }

    private ServedModel(ModelBundle bundle, string baseId, IReadOnlyList<string> adapters, ServingLimits limits)
    {
        Bundle = bundle;
        BaseId = baseId;
        Adapters = adapters;
        Limits = limits;
        ContextLength = Math.Min(limits.MaxContext, bundle.Model.Config.MaxPositionEmbeddings);
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")]
    private static partial Regex NamePattern();

    /// <summary>Attaches each adapter under its name; the bundle is owned from here on (disposed with this).</summary>
    public static ServedModel Create(ModelBundle bundle, string baseId, IReadOnlyList<AdapterSpec> adapters, ServingLimits limits)
    {
        limits = limits.Validated();
        var names = new HashSet<string>(StringComparer.Ordinal) { baseId };
        if (!NamePattern().IsMatch(baseId)) throw new FinQLoraException($"served model name '{baseId}' must be 1-128 letters, digits or . _ : / - (starting with a letter or digit)", exitCode: 2);
        foreach (var a in adapters)
        {
            if (!NamePattern().IsMatch(a.Name)) throw new FinQLoraException($"adapter name '{a.Name}' (for {a.Dir}) must be 1-128 letters, digits or . _ : / - (starting with a letter or digit)", exitCode: 2);
            if (!names.Add(a.Name)) throw new FinQLoraException($"two served models are named '{a.Name}' (the base model is '{baseId}'): give each adapter its own name", exitCode: 2);
        }
        foreach (var a in adapters) PeftAdapterFiles.Load(a.Dir, bundle.Model, a.Name);
        return new ServedModel(bundle, baseId, adapters.Select(a => a.Name).ToList(), limits);
    }

    /// <summary>Every name a request may use: the base model first, then the adapters.</summary>
    public IEnumerable<string> ModelIds => Adapters.Prepend(BaseId);

    /// <summary>The Llama-3.1 chat rendering of <paramref name="messages"/> with the assistant header, as token ids.</summary>
    public int[] EncodeChat(IReadOnlyList<ChatMessage> messages)
    {
        if (messages.Count == 0) throw new ServingException("messages must hold at least one message", ServingError.InvalidRequest, "messages");
        for (int i = 0; i < messages.Count; i++)
            if (messages[i].Role is not ("system" or "user" or "assistant"))
                throw new ServingException($"messages[{i}].role: unknown role '{messages[i].Role}' (expected system, user or assistant)", ServingError.InvalidRequest, $"messages[{i}].role");
        return Bundle.Tokenizer.Encode(ChatFormat.Render(messages, addGenerationPrompt: true), addBos: false);
    }

    /// <summary>A plain prompt (BOS + text), as <c>finqlora generate</c> without --chat encodes it.</summary>
    public int[] EncodePrompt(string prompt) => Bundle.Tokenizer.Encode(prompt, addBos: true);

    /// <summary>The adapter a model name selects (null: the base model); an unknown name is <see cref="ServingError.ModelNotFound"/>.</summary>
    public string? AdapterFor(string model) =>
        model == BaseId ? null
        : Adapters.Contains(model) ? model
        : throw new ServingException($"The model '{model}' does not exist; this server serves {string.Join(", ", ModelIds.Select(m => $"'{m}'"))} (GET /v1/models lists them)", ServingError.ModelNotFound, "model");

    /// <summary>Checks the request against the model and the limits; without a seed a sampled request draws a random one.</summary>
    /// <param name="promptField">the request field the prompt came from, named in errors ("messages" or "prompt")</param>
    public CompletionRequest CreateRequest(string? model, int[] promptIds, SamplingRequest s, string promptField = "messages")
    {
        model = string.IsNullOrEmpty(model) ? BaseId : model;
        string? adapter = AdapterFor(model);
        if (promptIds.Length == 0) throw new ServingException("the prompt is empty", ServingError.InvalidRequest, promptField);
        if (promptIds.Length >= ContextLength)
            throw new ServingException($"This model's maximum context length is {ContextLength} tokens. However, your prompt has {promptIds.Length} tokens, leaving no room for a completion. Please reduce the length of the prompt.",
                ServingError.ContextLengthExceeded, promptField);
        if (s.MaxTokens is < 1) throw new ServingException($"max_tokens must be at least 1, got {s.MaxTokens}", ServingError.InvalidRequest, "max_tokens");
        if (s.MaxTokens > Limits.MaxTokens)
            throw new ServingException($"max_tokens is {s.MaxTokens}, over this server's limit of {Limits.MaxTokens} new tokens per request", ServingError.InvalidRequest, "max_tokens");
        int maxTokens = s.MaxTokens ?? Math.Min(Limits.MaxTokens, ContextLength - promptIds.Length);
        if (promptIds.Length + maxTokens > ContextLength)
            throw new ServingException($"This model's maximum context length is {ContextLength} tokens. However, you requested {promptIds.Length + maxTokens} tokens ({promptIds.Length} in the prompt, {maxTokens} in the completion). Please reduce the length of the prompt or the completion.",
                ServingError.ContextLengthExceeded, "max_tokens");
        double temperature = s.Temperature ?? 1.0;
        if (!(temperature is >= 0 and <= 2)) throw new ServingException($"temperature must be in [0, 2], got {temperature}", ServingError.InvalidRequest, "temperature");
        double topP = s.TopP ?? 1.0;
        if (!(topP is > 0 and <= 1)) throw new ServingException($"top_p must be in (0, 1], got {topP}", ServingError.InvalidRequest, "top_p");
        var stop = s.Stop ?? [];
        if (stop.Count > 4) throw new ServingException($"stop holds {stop.Count} sequences; at most 4 are allowed", ServingError.InvalidRequest, "stop");
        if (stop.Any(string.IsNullOrEmpty)) throw new ServingException("stop sequences must not be empty", ServingError.InvalidRequest, "stop");
        long seed = s.Seed ?? Random.Shared.NextInt64();
        return new CompletionRequest(model, promptIds, adapter, new GenerationOptions(maxTokens, temperature, topP, seed), stop, s.IgnoreEos);
    }

    public void Dispose() => Bundle.Dispose();
}
