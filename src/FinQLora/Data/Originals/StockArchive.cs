using System.Formats.Tar;
using SharpCompress.Compressors.Xz;

namespace FinQLora.Data.Originals;

/// <summary>
/// The files of a stock-movement dataset, from its .tar.xz archive (read in .NET: SharpCompress's xz
/// decoder under System.Formats.Tar) or from the folder it was extracted to: relative path ('/'
/// separators, the archive's top folder kept) → bytes.
/// </summary>
public sealed class StockArchive
{
    /// <summary>One file of an extracted dataset folder (tweets and prices per ticker are a few MiB at most).</summary>
    public const long MaxEntryBytes = 256L << 20;

    public IReadOnlyDictionary<string, byte[]> Files { get; }
    public string Source { get; }

    private StockArchive(string source, Dictionary<string, byte[]> files) { Source = source; Files = files; }

    public static StockArchive Open(string path)
    {
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (Directory.Exists(path))
        {
            foreach (var f in Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories))
                files[Path.GetRelativePath(Path.GetDirectoryName(Path.GetFullPath(path).TrimEnd(Path.DirectorySeparatorChar))!, f).Replace('\\', '/')] = IO.InputFile.ReadBytes(f, MaxEntryBytes);
            return new StockArchive(path, files);
        }
        try
        {
            using var input = IO.InputFile.OpenRead(path);
            using var xz = new XZStream(input);
            using var tar = new TarReader(xz);
            while (tar.GetNextEntry() is { } entry)
            {
                if (entry.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || entry.DataStream is null) continue;
                using var ms = new MemoryStream();
                entry.DataStream.CopyTo(ms);
                files[entry.Name.TrimStart('.', '/')] = ms.ToArray();
            }
        }
        catch (Exception e) when (e is not FinQLoraException)
        {
            throw new FinQLoraException($"{path}: cannot read the archive ({e.Message})");
        }
        return new StockArchive(path, files);
    }

    /// <summary>Files whose path has the segments <paramref name="folder"/> (e.g. "price/raw") right before the file name.</summary>
    public IEnumerable<(string Path, byte[] Bytes)> In(string folder) =>
        Files.Where(kv => kv.Key.Contains("/" + folder + "/", StringComparison.Ordinal) && kv.Key.LastIndexOf('/') == kv.Key.IndexOf("/" + folder + "/", StringComparison.Ordinal) + folder.Length + 1)
             .OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => (kv.Key, kv.Value));

    /// <summary>Files two levels below <paramref name="folder"/>: folder/&lt;ticker&gt;/&lt;date&gt;.</summary>
    public IEnumerable<(string Ticker, string Date, byte[] Bytes)> Nested(string folder) =>
        Files.Select(kv => (kv, parts: kv.Key.Split('/')))
             .Where(x => x.parts.Length >= 3 && string.Join('/', x.parts[..^2]).EndsWith(folder, StringComparison.Ordinal))
             .Select(x => (x.parts[^2], x.parts[^1], x.kv.Value));
}
