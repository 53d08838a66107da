using FinQLora.Tasks;

namespace FinQLora.Hub;

/// <summary>
/// Downloads each task's Parquet files from its Hub dataset (<see cref="FlareTask.HubDataset"/>) into
/// <c>CACHE/&lt;task&gt;/&lt;split&gt;/&lt;file&gt;.parquet</c>, the layout that
/// <see cref="Data.DatasetPreparer"/> reads. A task whose dataset cannot be listed (404) is reported
/// and skipped, so the manifest can say why it has no data — unless every task is 404 (then the endpoint or
/// revision is wrong, and that is an error); 401/403 stop everything (the token is wrong).
/// </summary>
public static class HubDownloader
{
    public static string Download(IReadOnlyList<FlareTask> tasks, string cacheDir, HubSettings settings, Action<string> log,
        Action<HubProgress>? progress = null, HttpMessageHandler? handler = null, CancellationToken ct = default)
    {
        using var client = new HubClient(settings, handler);
        Directory.CreateDirectory(cacheDir);
        var notFound = new List<FinQLoraException>();
        foreach (var task in tasks)
        {
            IReadOnlyList<HubFile> files;
            try { files = client.ListParquetAsync(task.HubDataset, ct).GetAwaiter().GetResult(); }
            catch (FinQLoraException e) when (e.Message.Contains("HTTP 404", StringComparison.Ordinal))
            {
                log($"{task.Name}: {e.Message}");
                notFound.Add(e);
                if (notFound.Count == tasks.Count)   // nothing at all: a wrong HF_ENDPOINT or --revision, not a missing task
                    throw tasks.Count == 1 ? e : new FinQLoraException($"none of the {tasks.Count} task datasets was found on {settings.EndpointUri().Host} (HTTP 404); check HF_ENDPOINT and --revision '{settings.Revision}'", e.ExitCode, e);
                continue;
            }
            if (files.Count == 0) { log($"{task.Name}: {task.HubDataset} lists no Parquet files"); continue; }
            foreach (var file in files)
            {
                var target = TargetPath(cacheDir, task, file);
                client.DownloadAsync(file, target, progress, ct).GetAwaiter().GetResult();
                log($"{task.Name}/{file.Split}: {file.Path} ({new FileInfo(target).Length:N0} bytes{(file.Sha256 is null ? "" : ", sha256 ok")})");
            }
        }
        return cacheDir;
    }

    /// <summary>CACHE/task/split/&lt;repository path with '/' as '__'&gt; (checked against traversal).</summary>
    public static string TargetPath(string cacheDir, FlareTask task, HubFile file) =>
        SafePath.Under(cacheDir, $"{task.Name}/{file.Split}/{SafePath.Relative(file.Path).Replace(Path.DirectorySeparatorChar.ToString(), "__")}");
}
