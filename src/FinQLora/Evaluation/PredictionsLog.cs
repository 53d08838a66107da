using System.Text;

namespace FinQLora.Evaluation;

/// <summary>
/// predictions.jsonl while an evaluation runs: each finished batch is appended as one write of its lines and
/// flushed to disk before the next batch starts, so a kill at any moment loses at most the batch in flight.
/// <see cref="Open"/> with resume reads back what an interrupted run finished: a torn last line (the file does
/// not end in a line end: the write of a batch was cut) is dropped and reported; every other line must parse
/// (<see cref="PredictionsFile.Parse"/>, line cap included) and carry its <c>row</c>. The rows read back are
/// <see cref="Done"/>, keyed by (task, row). When a batch is run again because only part of it reached the
/// file, its rows already there are the file's last lines: <see cref="Append"/> removes them first, so no
/// row is ever in the file twice.
/// </summary>
public sealed class PredictionsLog : IDisposable
{
    private readonly List<(Prediction P, string Line)> _entries = [];
    private readonly Dictionary<(string Task, int Row), Prediction> _done = [];
    private FileStream _stream;

    public string Path { get; }

    /// <summary>Rows finished before this run, by (task, row).</summary>
    public IReadOnlyDictionary<(string Task, int Row), Prediction> Done => _done;

    private PredictionsLog(string path)
    {
        Path = path;
        _stream = OpenAppend(path);
    }

    /// <summary>
    /// A new, empty log at <paramref name="path"/> (an existing file is emptied), or with <paramref name="resume"/>
    /// the rows of the existing file (none when it is absent); <paramref name="log"/> hears about a dropped torn line.
    /// </summary>
    public static PredictionsLog Open(string path, bool resume, Action<string>? log = null)
    {
        if (!resume || !File.Exists(path))
        {
            IO.AtomicFile.WriteAllText(path, "");
            return new PredictionsLog(path);
        }
        long torn = DropTornTail(path);
        if (torn > 0) log?.Invoke($"{path}: dropped a torn last line ({torn} bytes; its batch was cut off by the interruption and runs again)");
        var entries = new List<(Prediction, string)>();
        foreach (var (lineNo, line) in IO.LineReader.Read(path))
        {
            if (PredictionsFile.Parse(path, lineNo, line) is not { } p) continue;
            if (p.Row is null) throw new FinQLoraException($"{path}:{lineNo}: no \"row\" field, so this row cannot be matched to the data (the file was not written by `finqlora evaluate`); start the evaluation again with --overwrite");
            entries.Add((p, line));
        }
        var result = new PredictionsLog(path);
        foreach (var (p, line) in entries)
        {
            if (!result._done.TryAdd((p.Task, p.Row!.Value), p))
                throw new FinQLoraException($"{path}: {p.Task} row {p.Row} is in the file twice (the file was edited?); start the evaluation again with --overwrite");
            result._entries.Add((p, line));
        }
        return result;
    }

    /// <summary>
    /// Appends a finished batch (one write, then a flush to disk). Rows of it already in the file (the part of this
    /// batch an interrupted run wrote) must be the file's last lines; they are removed first.
    /// </summary>
    public void Append(IReadOnlyList<Prediction> batch)
    {
        var again = batch.Where(p => _done.ContainsKey(Key(p))).Select(Key).ToHashSet();
        if (again.Count > 0) RemoveTail(again);
        var bytes = new StringBuilder();
        foreach (var p in batch)
        {
            var line = PredictionsFile.Line(p);
            bytes.Append(line).Append('\n');
            _entries.Add((p, line));
        }
        _stream.Write(Encoding.UTF8.GetBytes(bytes.ToString()));
        _stream.Flush(flushToDisk: true);
    }

    private static (string, int) Key(Prediction p) =>
        (p.Task, p.Row ?? throw new ArgumentException($"{p.Task} prediction {p.Id} has no row index", nameof(p)));

    private void RemoveTail(HashSet<(string, int)> keys)
    {
        int keep = _entries.Count - keys.Count;
        if (keep < 0 || !_entries.Skip(keep).All(e => keys.Contains(Key(e.P))))
            throw new InvalidOperationException($"{Path}: rows to run again are not the file's last lines");
        _entries.RemoveRange(keep, keys.Count);
        foreach (var k in keys) _done.Remove(k);
        _stream.Dispose();
        IO.AtomicFile.WriteAllText(Path, string.Concat(_entries.Select(e => e.Line + "\n")));
        _stream = OpenAppend(Path);
    }

    /// <summary>Cuts the file after its last line end; returns the bytes cut (0 when it ends in one or is empty).</summary>
    private static long DropTornTail(string path)
    {
        using var s = IO.InputFile.OpenReadWrite(path);   // a FIFO or device named predictions.jsonl would hang or never end
        var buffer = new byte[64 << 10];
        long end = s.Length;
        while (end > 0)
        {
            int n = (int)Math.Min(buffer.Length, end);
            s.Position = end - n;
            s.ReadExactly(buffer, 0, n);
            int nl = Array.LastIndexOf(buffer, (byte)'\n', n - 1, n);
            if (nl >= 0)
            {
                long keep = end - n + nl + 1;
                long cut = s.Length - keep;
                if (cut > 0) { s.SetLength(keep); s.Flush(flushToDisk: true); }
                return cut;
            }
            end -= n;
        }
        long all = s.Length;   // no line end at all: one torn line
        if (all > 0) { s.SetLength(0); s.Flush(flushToDisk: true); }
        return all;
    }

    private static FileStream OpenAppend(string path) => new(path, FileMode.Append, FileAccess.Write, FileShare.Read);

    public void Dispose() => _stream.Dispose();
}
