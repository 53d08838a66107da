using System.Diagnostics;
using CsCheck;
using FinQLora.Adapters;
using FinQLora.Config;
using FinQLora.Data;
using FinQLora.IO;
using FinQLora.Model;
using FinQLora.Tasks;
using FinQLora.Text;
using FinQLora.Tests.Cli;

namespace FinQLora.Tests.IO;

/// <summary>
/// Every reader of a file FinQLora is given, with that file replaced by something that is not a regular file:
/// an endless device (/dev/zero, /dev/urandom, read as 0 bytes by a size check) or a FIFO (whose open blocks
/// until a writer comes). Each is refused with a one-line message in bounded time and memory.
/// </summary>
public sealed class InputFileTests : IDisposable
{
    private readonly string _dir = Fixtures.TempDir();

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>The readers, each given a folder laid out as it expects with <c>file</c> in it, and that file's name.</summary>
    private static readonly (string File, Action<string> Read)[] Readers =
    [
        ("config.json", d => LlamaConfig.Load(d)),
        ("tokenizer.json", d => LlamaTokenizer.FromModelDirectory(d)),
        ("tokenizer_config.json", d => LlamaTokenizer.FromModelDirectory(d)),
        ("tokenizer.model", d => LlamaTokenizer.FromTiktokenModel(Path.Combine(d, "tokenizer.model"))),
        ("adapter_config.json", d => PeftAdapterFiles.ReadSettings(d)),
        ("model.safetensors", d => SafeTensorsFile.Open(Path.Combine(d, "model.safetensors")).Dispose()),
        ("model.safetensors.index.json", d => ModelWeights.Open(d).Dispose()),
        ("c.yaml", d => ConfigLoader.ReadTree(Path.Combine(d, "c.yaml"))),
        ("included.yaml", d => { File.WriteAllText(Path.Combine(d, "top.yaml"), "include: included.yaml\n"); ConfigLoader.ReadTree(Path.Combine(d, "top.yaml")); }),
        ("test.jsonl", d => FlareJsonl.Read(Path.Combine(d, "test.jsonl"), FlareTasks.Get("fpb"), "test")),
        ("test.json", d => FlareJsonl.Read(Path.Combine(d, "test.json"), FlareTasks.Get("fpb"), "test")),
        ("test.parquet", d => FlareParquet.Read(Path.Combine(d, "test.parquet"), FlareTasks.Get("fpb"), "test")),
        ("predictions.jsonl", d => LineReader.Read(Path.Combine(d, "predictions.jsonl")).ToList()),
    ];

    private static readonly string[] Kinds = ["/dev/zero", "/dev/urandom", "fifo", "folder"];

    private string Place(string folder, string name, string kind)
    {
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(Fixtures.TinyModel)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)), true);
        var path = Path.Combine(folder, name);
        if (File.Exists(path)) File.Delete(path);
        if (name == "model.safetensors.index.json") File.Delete(Path.Combine(folder, "model.safetensors"));
        switch (kind)
        {
            case "fifo":
                using (var p = Process.Start("mkfifo", [path])) p.WaitForExit();
                break;
            case "folder": Directory.CreateDirectory(path); break;
            default: File.CreateSymbolicLink(path, kind); break;
        }
        return folder;
    }

    [Fact]
    public void Devices_fifos_and_folders_are_refused_by_every_reader()
    {
        int n = 0;
        Gen.Select(Gen.Int[0, Readers.Length - 1], Gen.Int[0, Kinds.Length - 1]).Sample((r, k) =>
        {
            var (name, read) = Readers[r];
            if (Kinds[k] == "folder" && name == "tokenizer_config.json") return;   // optional: a folder of that name is no tokenizer_config.json
            var folder = Place(Path.Combine(_dir, $"case{Interlocked.Increment(ref n)}"), name, Kinds[k]);
            FinQLoraException? error = null;
            Exception? other = null;
            long allocated = 0;
            var task = Task.Run(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try { read(folder); }
                catch (FinQLoraException e) { error = e; }
                catch (Exception e) { other = e; }
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            });
            Assert.True(task.Wait(TimeSpan.FromSeconds(10)), $"{name} as {Kinds[k]}: the read hangs");
            Assert.Null(other);
            Assert.NotNull(error);
            Assert.Contains(name, error!.Message);
            Assert.DoesNotContain('\n', error.Message);
            Assert.True(allocated < 64L << 20, $"{name} as {Kinds[k]}: {allocated:N0} bytes allocated");
        }, iter: 60, threads: 1);
    }

    [Fact]
    public void A_file_that_grows_past_its_cap_while_read_is_refused_at_the_cap()
    {
        // /proc files and files still being written report a size that is not what a read returns
        var e = Assert.Throws<FinQLoraException>(() => InputFile.ReadBytes("/proc/self/maps", 16));
        Assert.Contains("over the 16-byte limit", e.Message);
    }

    private static readonly System.Text.RegularExpressions.Regex Opens =
        new(@"(?<![A-Za-z])File\.(ReadAll\w*|OpenRead|OpenText)\(|new FileStream\([^)]*FileMode\.Open,|new StreamReader\(\w*[pP]ath\b");

    [Fact]
    public void No_source_file_opens_an_input_outside_InputFile()
    {
        // Allowed: files this program wrote itself a moment ago (report images), this machine's /proc (LibTorchInfo),
        // writes (AtomicFile, RunLock, the metric sinks, downloads).
        var src = Path.Combine(CliProcess.RepoRoot(), "src");
        string[] allowed = ["InputFile.cs", "LibTorchInfo.cs", "Png.cs", "ReportBuilder.cs", "AtomicFile.cs"];
        var hits = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => !allowed.Contains(Path.GetFileName(f)))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => Opens.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(src, x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.Empty(hits);
    }
}
