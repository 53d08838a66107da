namespace FinQLora.Text;

// API CONTRACT (skeleton): the tokenizer work fills in the bodies; other code may already call these members.
/// <summary>
/// The Llama-3 byte-level BPE tokenizer, from a Hugging Face tokenizer.json or Meta's tiktoken
/// tokenizer.model, built on Microsoft.ML.Tokenizers. Special tokens written in the text
/// (e.g. "&lt;|eot_id|&gt;") are recognised as single tokens, as transformers does.
/// </summary>
public sealed class LlamaTokenizer
{
    /// <summary>Loads tokenizer.json (+ tokenizer_config.json) from a model folder, else tokenizer.model.</summary>
    public static LlamaTokenizer FromModelDirectory(string dir) => throw new NotImplementedException();

    public static LlamaTokenizer FromTokenizerJson(string tokenizerJsonPath, string? tokenizerConfigPath = null) => throw new NotImplementedException();

    /// <summary>Meta's tokenizer.model (base64 token + rank per line) with Llama-3's 256 special tokens after the ranks.</summary>
    public static LlamaTokenizer FromTiktokenModel(string tokenizerModelPath) => throw new NotImplementedException();

    /// <summary>Number of ids, special tokens included.</summary>
    public int VocabSize => throw new NotImplementedException();
    public int BosId => throw new NotImplementedException();
    /// <summary>&lt;|eot_id|&gt;: ends a chat turn; the training target ends with it.</summary>
    public int EotId => throw new NotImplementedException();
    /// <summary>Ids that stop generation (end_of_text, eom, eot, and the config's eos ids).</summary>
    public IReadOnlySet<int> StopIds => throw new NotImplementedException();
    /// <summary>Id used to pad batches (&lt;|finetune_right_pad_id|&gt; or end_of_text).</summary>
    public int PadId => throw new NotImplementedException();

    public int[] Encode(string text, bool addBos = true) => throw new NotImplementedException();
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) => throw new NotImplementedException();
    /// <summary>The id of a special token such as "&lt;|eot_id|&gt;", or null.</summary>
    public int? SpecialTokenId(string token) => throw new NotImplementedException();
}
