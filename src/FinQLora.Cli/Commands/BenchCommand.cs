using System.CommandLine;
using System.Text.Json;
using FinQLora.Benchmarks;

namespace FinQLora.Cli.Commands;

/// <summary>`finqlora bench`: step time, tokens/s, memory and MFU on random weights of a named shape.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var shape = new Option<string>("--shape") { Description = "llama3.1-8b, tiny, or a path to a config.json.", DefaultValueFactory = _ => "llama3.1-8b" };
        var method = new Option<string>("--method") { Description = "qlora (NF4 base + LoRA), lora (bf16 base + LoRA) or full.", DefaultValueFactory = _ => "qlora" }.OneOf("qlora", "lora", "full");
        var r = new Option<int>("--lora-r") { Description = "LoRA rank.", DefaultValueFactory = _ => 16 }.AtLeast(1);
        var alpha = new Option<double>("--lora-alpha") { Description = "LoRA alpha.", DefaultValueFactory = _ => 32 };
        var targets = new Option<string>("--targets") { Description = "LoRA target modules, comma-separated, or all-linear.", DefaultValueFactory = _ => "q_proj,k_proj,v_proj,o_proj" }.Targets();
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 2 }.AtLeast(1);
        var seq = new Option<int>("--seq") { Description = "Sequence length (training).", DefaultValueFactory = _ => 2048 }.AtLeast(2);
        var steps = new Option<int>("--steps") { Description = "Timed steps (or generate runs).", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var warmup = new Option<int>("--warmup") { Description = "Untimed warm-up steps.", DefaultValueFactory = _ => 3 }.AtLeast(0);
        var ckpt = new Option<string>("--grad-ckpt") { Description = "Gradient checkpointing: on or off.", DefaultValueFactory = _ => "on" }.OneOf("on", "off");
        var device = CliOptions.Device();
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype.", DefaultValueFactory = _ => "bfloat16" };
        var generate = new Option<bool>("--generate") { Description = "Benchmark greedy decoding instead of training." };
        var promptLen = new Option<int>("--prompt-len") { Description = "Prompt length (with --generate).", DefaultValueFactory = _ => 512 }.AtLeast(1);
        var newTokens = new Option<int>("--new-tokens") { Description = "New tokens per row (with --generate).", DefaultValueFactory = _ => 64 }.AtLeast(1);
        var json = new Option<string?>("--json") { Description = "Append the result as one JSON line to this file." };
        var nf4 = new Option<bool>("--nf4-dequant") { Description = "Measure NF4 dequantization bandwidth over the shape's linear weights (fused kernel and tensor ops), and check the kernel is bit-identical." };
        var profile = new Option<bool>("--profile") { Description = "Also split each timed step into phases (forward, loss, backward, optimizer) with CUDA events, and time one decoder layer's parts alone (CUDA only)." };
        var lossChunk = new Option<int>("--loss-chunk") { Description = "Positions per chunk of the chunked cross-entropy.", DefaultValueFactory = _ => 1024 }.AtLeast(1);
        var tf32 = new Option<string>("--tf32") { Description = "TF32 tensor cores for fp32 matmuls (LoRA's fp32 adapters): on or off; the trainer uses on for CUDA.", DefaultValueFactory = _ => "on" }.OneOf("on", "off");
        var checkKernels = new Option<bool>("--check-kernels") { Description = "Compare the fused CUDA kernels (RMSNorm, RoPE) with the tensor-ops path, forward and backward, and print the differences (CUDA)." };
        var command = new Command("bench", "Measure training-step or decoding speed and memory on random weights (nothing is downloaded).");
        foreach (var o in new Option[] { shape, method, r, alpha, targets, batch, seq, steps, warmup, ckpt, device, dtype, generate, promptLen, newTokens, json, nf4, profile, lossChunk, tf32, checkKernels })
            command.Options.Add(o);
        command.SetAction(parse =>
        {
            if (parse.GetValue(checkKernels))
            {
                foreach (var r in FusedCheck.Run(Model.DeviceSpec.Parse(parse.GetValue(device)!)))
                {
                    var check = FusedCheck.ToJson(r);
                    Console.WriteLine(check);
                    if (parse.GetValue(json) is { } p) File.AppendAllText(p, check + Environment.NewLine);
                }
                return 0;
            }
            if (parse.GetValue(nf4))
            {
                var dev = Model.DeviceSpec.Parse(parse.GetValue(device)!);
                var cfg = Model.ModelShapes.Resolve(parse.GetValue(shape)!);
                foreach (var record in Nf4Check.Run(dev, cfg, parse.GetValue(steps)))
                {
                    Console.WriteLine(record);
                    if (parse.GetValue(json) is { } p) File.AppendAllText(p, record + Environment.NewLine);
                }
                return 0;
            }
            var m = parse.GetValue(method)!;
            if (m is not ("qlora" or "lora" or "full")) throw new FinQLoraException($"--method {m}: expected qlora, lora or full");
            var c = parse.GetValue(ckpt)!;
            if (c is not ("on" or "off")) throw new FinQLoraException($"--grad-ckpt {c}: expected on or off");
            var settings = new BenchSettings(parse.GetValue(shape)!, m, parse.GetValue(r), parse.GetValue(alpha),
                parse.GetValue(targets)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                parse.GetValue(batch), parse.GetValue(seq), parse.GetValue(steps), parse.GetValue(warmup), c == "on",
                parse.GetValue(device)!, parse.GetValue(dtype)!, parse.GetValue(generate), parse.GetValue(promptLen), parse.GetValue(newTokens),
                LossChunk: parse.GetValue(lossChunk), Profile: parse.GetValue(profile), Tf32: parse.GetValue(tf32) switch
                {
                    "on" => true, "off" => false, var v => throw new FinQLoraException($"--tf32 {v}: expected on or off"),
                });
            var result = TrainingBenchmark.Run(settings, msg => Console.Error.WriteLine(msg));
            var line = JsonSerializer.Serialize(result, BenchJson.Options);
            Console.WriteLine(line);
            if (parse.GetValue(json) is { } path) File.AppendAllText(path, line + Environment.NewLine);
            return 0;
        });
        return command;
    }
}
