namespace FinQLora.Model;

/// <summary>Named model shapes for random-weight runs (bench, params, random:SHAPE models).</summary>
public static class ModelShapes
{
    /// <summary>llama3.1-8b (aliases llama-3.1-8b, llama3-8b, 8b), tiny, or the path of a config.json (or its folder).</summary>
    public static LlamaConfig Resolve(string shape) => shape.ToLowerInvariant() switch
    {
        "llama3.1-8b" or "llama-3.1-8b" or "llama3-8b" or "8b" => LlamaConfig.Llama31_8B,
        "tiny" => TinyModel.Config,
        _ when File.Exists(shape) || Directory.Exists(shape) => LlamaConfig.Load(shape),
        _ => throw new FinQLoraException($"--shape {shape}: expected llama3.1-8b, tiny, or the path of a config.json", exitCode: 2),
    };
}
