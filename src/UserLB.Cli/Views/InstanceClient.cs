using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace UserLB.Cli.Views;

/// <summary>
/// The CLI's side of the API: talks to a running <c>userlb run</c> at <c>--api URL</c> (default http://127.0.0.1:5555)
/// with the key from <c>--key</c> or <c>USERLB_KEY</c>. Every failure becomes an <see cref="InstanceException"/> with a
/// one-line message: no instance answering, a refused key, or the API's own error message.
/// </summary>
internal sealed class InstanceClient : IDisposable
{
    public const string DefaultUrl = "http://127.0.0.1:5555";
    public const string KeyVariable = "USERLB_KEY";
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The options every client command takes, with their help text.</summary>
    public const string OptionsHelp = """
          --api URL    the running instance's API (default http://127.0.0.1:5555; HOST:PORT is enough)
          --key KEY    the API key (default: the USERLB_KEY environment variable)
        """;

    private readonly HttpClient _http;

    public InstanceClient(Uri baseAddress, string? key, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(baseAddress);
        BaseAddress = baseAddress;
        _http = new HttpClient { BaseAddress = baseAddress, Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(key)) _http.DefaultRequestHeaders.Add("Key", key);
        Timeout = timeout ?? DefaultTimeout;
    }

    public Uri BaseAddress { get; }

    /// <summary>How long a request may wait for the reply's headers.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The client for <c>--api</c> and <c>--key</c> (else <c>USERLB_KEY</c>).</summary>
    public static InstanceClient FromArgs(Args args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return new InstanceClient(ParseUrl(args.Get("api") ?? DefaultUrl), args.Get("key") ?? Environment.GetEnvironmentVariable(KeyVariable));
    }

    public static Uri ParseUrl(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Contains("://", StringComparison.Ordinal) ? text : "http://" + text;
        if (!Uri.TryCreate(t, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Host.Length == 0)
            throw new UsageException($"option --api: \"{text}\" is not a URL such as http://127.0.0.1:5555");
        return new Uri(uri.GetLeftPart(UriPartial.Authority) + "/");
    }

    /// <summary>Sends a request and returns the successful reply (headers read; the body may stream).</summary>
    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string pathAndQuery, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        HttpResponseMessage reply;
        try
        {
            using var request = new HttpRequestMessage(method, pathAndQuery.TrimStart('/'));
            reply = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new InstanceException($"no userlb instance answers at {Shown}: {Why(ex)} (start one with `userlb run`, or give --api URL)");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InstanceException($"no answer from {Shown} within {Timeout.TotalSeconds:0} s");
        }
        if (reply.IsSuccessStatusCode) return reply;
        using (reply)
        {
            string body = await reply.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            string? message = ErrorMessage(body);
            if (reply.StatusCode == HttpStatusCode.Unauthorized)
                throw new InstanceException($"the instance at {Shown} refused the key: give --key KEY or set {KeyVariable}");
            throw new InstanceException(message ?? $"{Shown} answered {(int)reply.StatusCode} {reply.ReasonPhrase}");
        }
    }

    /// <summary>GET and return the whole body.</summary>
    public async Task<string> GetStringAsync(string pathAndQuery, CancellationToken cancellationToken)
    {
        using var reply = await SendAsync(HttpMethod.Get, pathAndQuery, cancellationToken).ConfigureAwait(false);
        return await reply.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a request and hands each line of the reply to <paramref name="onLine"/> as it arrives; returns the number of lines.</summary>
    public async Task<long> ReadLinesAsync(HttpMethod method, string pathAndQuery, Action<string> onLine, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onLine);
        using var reply = await SendAsync(method, pathAndQuery, cancellationToken).ConfigureAwait(false);
        using var stream = await reply.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        long n = 0;
        try
        {
            while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
            {
                onLine(line);
                n++;
            }
        }
        catch (IOException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InstanceException($"the instance at {Shown} closed the stream: {ex.Message}");
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new InstanceException($"the instance at {Shown} closed the stream: {Why(ex)}");
        }
        return n;
    }

    private string Shown => BaseAddress.GetLeftPart(UriPartial.Authority);

    private static string Why(HttpRequestException ex) =>
        ex.InnerException is SocketException se ? se.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData => "host not found",
            SocketError.TimedOut => "connection timed out",
            SocketError.NetworkUnreachable or SocketError.HostUnreachable => "unreachable",
            _ => se.Message,
        } : ex.InnerException?.Message ?? ex.Message;

    private static string? ErrorMessage(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            // nftlb's error shape {"response": "error: …"}; instances before it also sent "message".
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                return m.GetString();
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("response", out var r) && r.GetString() is { } text
                && text.StartsWith("error", StringComparison.Ordinal))
            {
                return text.StartsWith("error: ", StringComparison.Ordinal) ? text["error: ".Length..] : text;
            }
        }
        catch (JsonException)
        {
        }
        string line = body.Trim();
        int nl = line.IndexOf('\n', StringComparison.Ordinal);
        return line.Length == 0 ? null : nl >= 0 ? line[..nl] : line;
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The running instance could not be asked or said no; the message is one line for the user.</summary>
internal sealed class InstanceException(string message) : Exception(message);
