namespace FinQLora.Tests.Hub;

/// <summary>
/// An in-process Hub for HubClient: answers each request with <paramref name="answer"/> and records the URL
/// and whether it carried the Authorization header. Lets a test use any host names (hub, CDN, a remote
/// plain-HTTP address) without a network.
/// </summary>
internal sealed class ScriptedHandler(Func<HttpRequestMessage, HttpResponseMessage> answer) : HttpMessageHandler
{
    public sealed record Seen(Uri Url, string? Authorization);

    public List<Seen> Requests { get; } = [];

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (Requests) Requests.Add(new Seen(request.RequestUri!, request.Headers.Authorization?.ToString()));
        return Task.FromResult(answer(request));
    }

    public static HttpResponseMessage Redirect(string location, System.Net.HttpStatusCode code = System.Net.HttpStatusCode.Found)
    {
        var r = new HttpResponseMessage(code);
        r.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
        return r;
    }

    public static HttpResponseMessage Json(string body) =>
        new(System.Net.HttpStatusCode.OK) { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
}

/// <summary>A read-only stream of <c>length</c> copies of one byte, produced as read (never held in memory).</summary>
internal sealed class RepeatedByteStream(long length, byte value) : Stream
{
    private long _position;
    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => length;
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count)
    {
        int n = (int)Math.Min(count, length - _position);
        buffer.AsSpan(offset, n).Fill(value);
        _position += n;
        return n;
    }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
