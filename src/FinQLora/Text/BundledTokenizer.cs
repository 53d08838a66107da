namespace FinQLora.Text;

/// <summary>Meta's Llama-3 tokenizer.model, embedded in the library (assets/llama3, Meta Llama 3 Community License).</summary>
public static class BundledTokenizer
{
    public const string ResourceName = "FinQLora.llama3.tokenizer.model";

    public static Stream Open() =>
        typeof(BundledTokenizer).Assembly.GetManifestResourceStream(ResourceName)
        ?? throw new InvalidOperationException($"embedded resource {ResourceName} missing from the build");

    /// <summary>Writes tokenizer.model and its licence note into <paramref name="dir"/>.</summary>
    public static void WriteTo(string dir)
    {
        using (var source = Open())
        using (var target = File.Create(Path.Combine(dir, "tokenizer.model")))
            source.CopyTo(target);
        File.WriteAllText(Path.Combine(dir, "LICENSE-tokenizer.txt"),
            "tokenizer.model: Meta's Llama 3 tokenizer, redistributed under the Meta Llama 3 Community License (https://llama.meta.com/llama3/license/).\n");
    }
}
