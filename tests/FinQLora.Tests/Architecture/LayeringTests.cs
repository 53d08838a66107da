namespace FinQLora.Tests.Architecture;

/// <summary>
/// The core library's namespaces form layers: each uses only those below it, so none reaches up and no cycle
/// ties them together (docs/ARCHITECTURE.md draws the layers).
/// </summary>
public class LayeringTests
{
    private static readonly Lazy<NamespaceGraph> Core = new(() => NamespaceGraph.Of(typeof(FinQLoraException).Assembly.Location, "FinQLora"));

    /// <summary>The layers of src/FinQLora, bottom first ("" is the root namespace: <see cref="FinQLoraException"/>).</summary>
    public static readonly string[] Layers =
    [
        "",              // FinQLoraException
        "Runtime",       // torch interop: native loading, seeding, the autograd hand-off
        "IO",            // safetensors, atomic files, bounded readers
        "Text",          // tokenizers, chat format
        "Tasks",         // the FLARE task table
        "Cuda",          // driver, NVRTC, kernel loading, fused norm/rope kernels
        "Quantization",  // NF4 and its kernels
        "Model",         // Llama modules; projections arrive as Module<Tensor, Tensor>
        "Adapters",      // LoRA modules, PEFT files, merging
        "Loading",       // the builder: which linear goes where; NF4 projections from a checkpoint
        "Inference",     // a loaded model + tokenizer; generation
        "Hub",           // Hugging Face downloads
        "Data",          // FLARE rows, prompts, batches
        "Runs",          // run folder, lock, layout, checkpoint store
        "Config",        // YAML config records, validation
        "Monitoring",    // metrics sinks, GPU monitor
        "Distributed",   // ranks, NCCL, gradient averaging, sharding
        "Evaluation",    // scoring, metrics (the trainer measures tasks with them)
        "Training",      // the recipe and its parts
        "Serving",       // the inference engine behind IChatClient and the HTTP server
        "Curriculum",    // stages, then evaluation
        "Benchmarks",    // measurements over everything below
    ];

    private static string Describe(IEnumerable<(string From, string To)> edges) =>
        string.Join("\n", edges.Select(e => $"{e.From} -> {e.To}   e.g. {Core.Value.Example(e.From, e.To)}"));

    [Fact]
    public void No_cycle_ties_core_namespaces_together()
    {
        var cycles = Core.Value.Cycles();
        var edges = cycles.SelectMany(c => c.SelectMany(a => c.Where(b => Core.Value.Example(a, b) is not null).Select(b => (a, b))));
        Assert.True(cycles.Count == 0, $"namespace cycles: {string.Join("; ", cycles.Select(c => string.Join(", ", c.Order())))}\n{Describe(edges)}");
    }

    [Fact]
    public void Model_uses_neither_adapters_nor_quantization()
    {
        var bad = new[] { "Adapters", "Quantization" }.Where(n => Core.Value.Example("Model", n) is not null).Select(n => ("Model", n)).ToList();
        Assert.True(bad.Count == 0, Describe(bad));
    }

    [Fact]
    public void No_namespace_reaches_up_the_layers()
    {
        var unplaced = Core.Value.Namespaces.Where(n => !Layers.Contains(n)).Order().ToList();
        Assert.True(unplaced.Count == 0, $"namespaces missing from LayeringTests.Layers: {string.Join(", ", unplaced)}");
        var up = Core.Value.Namespaces.SelectMany(from => Core.Value.Targets(from).Where(to => Array.IndexOf(Layers, to) > Array.IndexOf(Layers, from))
            .Select(to => (from, to))).ToList();
        Assert.True(up.Count == 0, $"edges that reach up:\n{Describe(up)}");
    }

    [Fact]
    public void The_graph_sees_the_uses_the_code_has()
    {
        Assert.NotNull(Core.Value.Example("Adapters", "Model"));      // LoraInjector walks LlamaForCausalLM
        Assert.NotNull(Core.Value.Example("Training", "Adapters"));   // the recipe attaches LoRA
        Assert.NotNull(Core.Value.Example("Model", "Cuda"));          // RmsNorm's fused kernel (a use inside a method body)
    }

    [Fact]
    public void A_cycle_is_found_when_there_is_one()
    {
        var g = new NamespaceGraph();
        g.Add("A", "B", "a"); g.Add("B", "C", "b"); g.Add("D", "A", "d");
        Assert.Empty(g.Cycles());
        g.Add("C", "A", "c");
        Assert.Equal(["A", "B", "C"], Assert.Single(g.Cycles()).Order());
    }
}
