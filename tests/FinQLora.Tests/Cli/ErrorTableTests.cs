using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using FinQLora.Cli;
using FinQLora.Tests.Data;
using FinQLora.Training;

namespace FinQLora.Tests.Cli;

/// <summary>
/// docs/ERRORS.md, row by row: each bad input run through the real `finqlora` program, with the
/// message (one line on stderr, starting "error: ") and the exit code the table promises.
/// </summary>
public class ErrorTableTests
{
    internal static string CopyOf(string fixtureDir, params string[] leaveOut)
    {
        var dir = Fixtures.TempDir();
        foreach (var f in Directory.GetFiles(fixtureDir).Where(f => !leaveOut.Contains(Path.GetFileName(f))))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        return dir;
    }

    /// <summary>The CLI failed with <paramref name="exitCode"/> and one error line containing each of <paramref name="parts"/>.</summary>
    internal static string Fails(CliProcess.Result r, int exitCode, params string[] parts)
    {
        Assert.True(r.ExitCode == exitCode, $"exit {r.ExitCode}, expected {exitCode}: {r.Stderr}");
        var line = r.Stderr.Split('\n').Single(l => l.StartsWith("error: ", StringComparison.Ordinal));
        foreach (var p in parts) Assert.Contains(p, line);
        Assert.DoesNotContain("   at ", r.Stderr);
        return line;
    }

    private static CliProcess.Result Generate(string model, params string[] more) =>
        CliProcess.Run(["generate", "--model", model, "--prompt", "Revenue", "--max-new-tokens", "1", .. more]);

    [Fact]
    public void Weights_in_an_unsupported_dtype()
    {
        var dir = CopyOf(Fixtures.TinyModel);
        var path = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(path);
        int headerLength = (int)BitConverter.ToUInt64(bytes, 0);
        // model.norm.weight is F32 [64]: the same 256 bytes read as U32 (a safetensors dtype FinQLora does not load).
        var header = System.Text.Encoding.UTF8.GetString(bytes, 8, headerLength);
        const string from = "\"model.norm.weight\":{\"dtype\":\"F32\"";
        Assert.Contains(from, header);
        System.Text.Encoding.UTF8.GetBytes(header.Replace(from, from.Replace("F32", "U32"))).CopyTo(bytes, 8);
        File.WriteAllBytes(path, bytes);
        Fails(Generate(dir), 1, "model.safetensors: tensor 'model.norm.weight': unsupported dtype 'U32' (supported: F64, F32, F16, BF16");
    }

    [Fact]
    public void Shard_missing_from_the_index()
    {
        var dir = CopyOf(Fixtures.Parity("model-sharded"), "model-00003-of-00006.safetensors");
        Fails(Generate(dir), 1, "model.safetensors.index.json: shard 'model-00003-of-00006.safetensors' listed in the index is missing from");
    }

    [Fact]
    public void Tokenizer_and_model_vocabulary_mismatch()
    {
        var dir = CopyOf(Fixtures.TinyModel);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
        config["vocab_size"] = 500;   // the tokenizer has 1011 tokens
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        Fails(Generate(dir), 1, "the tokenizer has 1011 tokens but the model's vocab_size is 500: tokenizer and model do not belong together");
    }

    internal static string StageConfig(string extra)
    {
        var dir = Fixtures.TempDir();
        var path = Path.Combine(dir, "stage.yaml");
        File.WriteAllText(path, $"""
            stage: errors
            output: {Path.Combine(dir, "run")}
            model: {"{"} path: {Fixtures.TinyModel}, dtype: float32, quantize: nf4, device: cpu {"}"}
            data: {"{"} dir: {Path.Combine(AppContext.BaseDirectory, "samples")}, tasks: [fpb], max_length: 256, truncation: left {"}"}
            {extra}
            """);
        return path;
    }

    [Fact]
    public void Continue_with_a_lora_section_that_disagrees_with_the_adapter()
    {
        // the adapter of tests/fixtures/parity/out/adapter-a is r 4, alpha 8 on q, k, v, o
        var adapter = Fixtures.Parity("adapter-a");
        var r = CliProcess.Run("train", "--config", StageConfig("lora: { r: 8 }"), "--init-adapter", adapter, "--set", "init_adapter_mode=continue");
        Fails(r, 2, $"init_adapter_mode: continue trains {adapter} itself, so its shape comes from {Path.Combine(adapter, "adapter_config.json")}: lora.r is 8 but the adapter has 4.");
    }

    [Fact]
    public void Gpu_out_of_memory_maps_to_exit_code_4_and_advice()
    {
        // How libtorch reports it (TorchSharp raises ExternalException), wrapped as the training step would see it.
        var oom = new InvalidOperationException("step failed", new ExternalException(
            "CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total capacity of 79.1 GiB of which 312.0 MiB is free.\nException raised from malloc at /pytorch/c10/cuda/CUDACachingAllocator.cpp:1"));
        Assert.True(OutOfMemory.IsCudaOom(oom));
        var error = OutOfMemory.Describe(oom, "stage stage1, step 3", batchSize: 4, sequenceLength: 2048, gradAccum: 4, gradCheckpointing: true, lossChunkSize: 1024);
        var stderr = new StringWriter();
        var saved = Console.Error;
        Console.SetError(stderr);
        int code;
        try { code = CliRunner.Report(error, verbose: false); }
        finally { Console.SetError(saved); }
        Assert.Equal(4, code);
        var line = stderr.ToString().TrimEnd('\n');
        Assert.Equal("error: CUDA out of memory at stage stage1, step 3 with a micro-batch of 4 sequence(s) × 2048 tokens: lower training.batch_size " +
                     "(e.g. --set training.batch_size=2 --set training.grad_accum=8 keeps the 16 sequences per step); or lower data.max_length (now 2048 tokens in this batch); " +
                     "or lower training.loss_chunk_size (now 1024). (libtorch: CUDA out of memory. Tried to allocate 1.50 GiB. GPU 0 has a total capacity of 79.1 GiB of which 312.0 MiB is free.)", line);
    }

    [Fact]
    public void Device_cuda_without_a_gpu()
    {
        if (TorchSharp.torch.cuda.is_available()) return;   // the row is about machines without one
        Fails(Generate(Fixtures.TinyModel, "--device", "cuda"), 3, "--device cuda: no CUDA device is available to libtorch");
    }

    private static CliProcess.Result PrepareData(HubTestServer server, string tasks, string? token = null, params string[] more)
    {
        var env = new Dictionary<string, string> { ["HF_ENDPOINT"] = server.Endpoint, ["HF_TOKEN"] = token ?? "", ["HF_HOME"] = Fixtures.TempDir() };
        return CliProcess.RunWith(env, ["prepare-data", "--tasks", tasks, "--output", Fixtures.TempDir(), "--allow-http", .. more]);
    }

    [Fact]
    public void Hub_401_without_a_token()
    {
        using var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)), isPrivate: true);
        Fails(PrepareData(server, "fpb"), 3, "TheFinAI/flare-fpb: HTTP 401: the Hub wants a token; set HF_TOKEN or run `huggingface-cli login`");
    }

    [Fact]
    public void Hub_404()
    {
        using var server = new HubTestServer();
        Fails(PrepareData(server, "fpb"), 3, "TheFinAI/flare-fpb: not found on 127.0.0.1 (HTTP 404; check the name and revision 'main')");
    }

    [Fact]
    public void Hub_timeout()
    {
        using var server = new HubTestServer { Stall = TimeSpan.FromSeconds(4) };
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)));
        Fails(PrepareData(server, "fpb", null, "--hub-timeout", "1", "--hub-attempts", "1"), 3,
            "TheFinAI/flare-fpb: the Hub at 127.0.0.1 did not answer within 1 s (1 attempt(s)); try again later, raise --hub-timeout, or use --offline --source DIR");
    }

    [Fact]
    public void Corrupt_download()
    {
        using var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new("data/test-00000-of-00001.parquet", ParquetTests.FpbParquet(3)) { AdvertisedSha = new string('a', 64) });
        Fails(PrepareData(server, "fpb"), 3, "TheFinAI/flare-fpb/data/test-00000-of-00001.parquet: sha256 mismatch (expected aaaa", "the download is corrupt; the partial file was deleted, run again");
    }

    [Fact]
    public void Pickle_weights_are_refused()
    {
        var dir = CopyOf(Fixtures.TinyModel, "model.safetensors");
        File.WriteAllBytes(Path.Combine(dir, "pytorch_model.bin"), [0x80, 0x02, (byte)'c', (byte)'o', (byte)'s', (byte)'\n']);   // a pickle that would run os.* if loaded
        Fails(Generate(dir), 1, "only PyTorch pickle weights (*.bin/*.pt) found; FinQLora never loads pickles. Convert them to safetensors first");
    }

    [Fact]
    public void Pickle_adapters_are_refused()
    {
        var adapter = CopyOf(Fixtures.Parity("adapter-a"), "adapter_model.safetensors");
        File.WriteAllBytes(Path.Combine(adapter, "adapter_model.bin"), [0x80, 0x02, (byte)'c', (byte)'o', (byte)'s', (byte)'\n']);
        Fails(Generate(Fixtures.TinyModel, "--adapter", adapter), 1, "adapter_model.bin is a PyTorch pickle, which FinQLora never loads; convert it to adapter_model.safetensors first");
    }

    [Theory]
    [InlineData("data/../../evil/test.parquet", "(empty, '.' or '..' segment)")]
    [InlineData("/etc/test.parquet", "(absolute, drive or control characters)")]
    [InlineData("data\\..\\..\\test.parquet", "(absolute, drive or control characters)")]
    [InlineData("C:/test.parquet", "(absolute, drive or control characters)")]
    [InlineData("data/te\0st.parquet", "(absolute, drive or control characters)")]
    public void Path_traversal_in_a_download_name(string name, string why)
    {
        using var server = new HubTestServer();
        server.Add("TheFinAI/flare-fpb", new(name, ParquetTests.FpbParquet(3)));
        Fails(PrepareData(server, "fpb"), 3, "the server sent an unsafe file name", why);
        Assert.False(File.Exists(Path.Combine(Path.GetTempPath(), "evil", "test.parquet")));
    }

    [Theory]
    [InlineData("prepare-data")]
    [InlineData("evaluate")]
    [InlineData("score")]
    public void A_jsonl_line_over_the_cap(string command)
    {
        // 64 MB without a newline, read no further than the 16 M-character cap (no memory blow-up, no untyped OutOfMemoryException)
        var dir = Fixtures.TempDir();
        var file = Fixtures.OneLongLine(Path.Combine(dir, "fpb", "test.jsonl"), 64L << 20, "{\"task\": \"fpb\", \"prompt\": \"");
        var r = command switch
        {
            "prepare-data" => CliProcess.Run("prepare-data", "--offline", "--source", dir, "--tasks", "fpb", "--output", Fixtures.TempDir()),
            "evaluate" => CliProcess.Run("evaluate", "--predictions", file, "--output", Fixtures.TempDir()),
            _ => CliProcess.Run("score", "--model", Fixtures.TinyModel, "--input", file),
        };
        Fails(r, 1, $"error: {file}:1: a line over 16,777,216 characters (not JSON Lines, or corrupt)");
    }

    [Fact]
    public void A_config_file_over_1_MiB()
    {
        var path = Fixtures.OneLongLine(Path.Combine(Fixtures.TempDir(), "stage.yaml"), 3L << 20, "stage: s1 # ");
        Fails(CliProcess.Run("train", "--config", path), 2, "error: stage.yaml: a config file must be under 1024 KiB, this one has 3072 KiB");
    }

    [Fact]
    public void Evaluate_into_a_folder_that_holds_an_earlier_evaluation()
    {
        // refused before the model is loaded; nothing in the folder changes
        var output = Fixtures.TempDir();
        File.WriteAllText(Path.Combine(output, "metrics.json"), "{}");
        var r = CliProcess.Run("evaluate", "--model", Fixtures.TinyModel, "--data", Path.Combine(AppContext.BaseDirectory, "samples"), "--tasks", "fpb", "--limit", "1", "--output", output);
        Fails(r, 2, $"error: the output folder {output} already holds files (an earlier evaluation?): pass --overwrite to replace its predictions.jsonl, metrics.json and summary.md, or choose another folder (--output DIR)");
        Assert.Equal(["metrics.json"], Directory.GetFiles(output).Select(Path.GetFileName));
        Assert.Equal("{}", File.ReadAllText(Path.Combine(output, "metrics.json")));
    }
}

/// <summary>docs/ERRORS.md rows run through the program in this process (<see cref="CliInProcess"/>): same message, same exit code.</summary>
[Collection(ConsoleCollection.Name)]
public class ErrorTableInProcessTests
{
    private static CliProcess.Result GenerateInProcess(string model, params string[] more) =>
        CliInProcess.Run(["generate", "--model", model, "--prompt", "Revenue", "--max-new-tokens", "1", .. more]);

    [Fact]
    public void Unsupported_compute_dtype_on_the_command_line()
    {
        ErrorTableTests.Fails(GenerateInProcess(Fixtures.TinyModel, "--dtype", "float64"), 2, "--dtype float64: expected float32, bfloat16 or float16");
    }

    [Fact]
    public void Unknown_config_key()
    {
        var r = CliInProcess.Run("train", "--config", ErrorTableTests.StageConfig("lora: { rank: 8 }"));
        ErrorTableTests.Fails(r, 2, "stage.yaml: unknown key 'lora.rank'; known keys here: r, alpha, dropout", "(stage.yaml:5)");
    }

    [Fact]
    public void Lora_rank_zero()
    {
        var r = CliInProcess.Run("train", "--config", ErrorTableTests.StageConfig("lora: { r: 0 }"));
        ErrorTableTests.Fails(r, 2, "stage.yaml: lora.r must be > 0, got 0");
    }

    [Fact]
    public void Batch_larger_than_the_data()
    {
        // samples/fpb/train.jsonl has 40 rows: fewer than one step of 64.
        var r = CliInProcess.Run("train", "--config", ErrorTableTests.StageConfig("training: { batch_size: 64, grad_accum: 1, max_steps: 1 }"));
        ErrorTableTests.Fails(r, 1, "the data has 40 examples, fewer than one optimizer step needs (64 × 1 × 1 GPU(s)); lower training.batch_size or training.grad_accum");
    }

    [Fact]
    public void Missing_model_file()
    {
        var dir = ErrorTableTests.CopyOf(Fixtures.TinyModel, "model.safetensors");
        ErrorTableTests.Fails(GenerateInProcess(dir), 1, dir, "no model.safetensors or model.safetensors.index.json");
    }
}
