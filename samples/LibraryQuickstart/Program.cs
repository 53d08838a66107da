// FinQLora as a library (the FinQLora.Core package): the quickstart's curriculum, then the evaluator on its own.
// Run: dotnet run [FOLDER]   (writes the quickstart's configs and samples into FOLDER, default ./finqlora-sample)
using FinQLora.Config;
using FinQLora.Curriculum;
using FinQLora.Evaluation;
using FinQLora.Inference;
using FinQLora.Loading;
using FinQLora.Model;
using FinQLora.Serving;
using FinQLora.Tasks;
using FinQLora.Training;
using Microsoft.Extensions.AI;
using static TorchSharp.torch;

// The configs and bundled FLARE samples that `finqlora init` writes; their data paths are relative to the working directory.
var dir = Path.GetFullPath(args.FirstOrDefault() ?? "finqlora-sample");
if (!File.Exists(Path.Combine(dir, StarterKit.QuickstartConfig))) StarterKit.WriteTo(dir);
Directory.SetCurrentDirectory(dir);

// 1. The curriculum: stage 1, stage 2 on top of it, then the evaluation (the report is drawn by the FinQLora.Reports package).
var config = ConfigLoader.LoadCurriculum(StarterKit.QuickstartConfig, ["training.max_steps=2", "evaluation.limit=2", "report=false"]);
var output = CurriculumRunner.Run(config, resume: false, overwrite: true, command: "LibraryQuickstart").Output;
Console.WriteLine($"curriculum: {Path.GetFullPath(output)}");

// 2. The evaluator: the tiny random-weight model with the curriculum's adapters, on two FPB test rows, scored as FLARE does.
var modelDir = TinyModel.Resolve(TinyModel.Name);
using var bundle = ModelBundle.Load(modelDir, new ModelLoadOptions(CPU, ScalarType.Float32, Quantize: "nf4"));
foreach (var (name, adapter, mode) in CurriculumRunner.AdapterChain(config))
    InitAdapter.Apply(bundle.Model, adapter, mode, modelDir, name, Console.Error.WriteLine);
bundle.Model.eval();
var predictions = Evaluator.Run(bundle, new EvaluationSettings([FlareTasks.Get("fpb")], "samples", Limit: 2));
foreach (var (task, metrics) in FlareScorer.Score(predictions))
    Console.WriteLine($"{task}: {string.Join(", ", metrics.Select(m => $"{m.Key} {m.Value:F3}"))}");

// 3. Chat through Microsoft.Extensions.AI's IChatClient: the base model and stage 1's adapter, chosen per call by
//    ChatOptions.ModelId (docs/SERVING.md). The engine owns its model; calls from many threads batch together.
var stage1 = CurriculumRunner.AdapterChain(config)[0];
using var served = ServedModel.Create(ModelBundle.Load(modelDir, new ModelLoadOptions(CPU, ScalarType.Float32, Quantize: "nf4")),
    "base", [new AdapterSpec("stage1", stage1.Dir)], new ServingLimits(MaxBatch: 2, MaxContext: 1024, MaxTokens: 16));
using var engine = new ServingEngine(served);
IChatClient chat = new FinQLoraChatClient(engine);
var reply = await chat.GetResponseAsync("Is 'operating profit fell' positive, negative or neutral?",
    new ChatOptions { ModelId = "stage1", MaxOutputTokens = 8, Temperature = 0 });
Console.WriteLine($"chat (stage1): {reply.Text} ({reply.FinishReason}, {reply.Usage?.OutputTokenCount} tokens)");
