using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using UserLB.Engine.Config;

namespace UserLB.Cli.Api;

/// <summary>
/// The REST control API of <c>userlb run</c> (nftlb-compatible): ASP.NET Core minimal APIs on Kestrel in the same process,
/// bound to one address (loopback by default). Every request must carry the header <c>Key</c>. Replies are nftlb's:
/// <c>{"response": "success"}</c> (warnings appended: <c>"success. Parsing unknown value …"</c>) or <c>{"response": "error …"}</c>.
/// </summary>
internal sealed partial class ApiHost : IAsyncDisposable
{
    public const string DefaultListen = "127.0.0.1:5555";
    public const string KeyHeader = "Key";

    private readonly WebApplication _app;

    private ApiHost(WebApplication app) => _app = app;

    /// <summary>The address the API listens on (after <see cref="StartAsync"/>; with port 0, the port chosen).</summary>
    public Uri Address
    {
        get
        {
            var server = _app.Services.GetService(typeof(IServer)) as IServer;
            var addresses = server?.Features.Get<IServerAddressesFeature>()?.Addresses;
            string first = addresses?.FirstOrDefault() ?? throw new InvalidOperationException("the API is not started");
            return new Uri(first);
        }
    }

    /// <summary>Builds the host; <paramref name="logging"/> configures ASP.NET Core's own logging (null: none);
    /// <paramref name="limits"/>: what one client may cost (null: <see cref="ApiLimits.Default"/>).</summary>
    public static ApiHost Create(ControlPlane control, IPEndPoint listen, string key, Action<ILoggingBuilder>? logging = null, ApiLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(listen);
        ArgumentException.ThrowIfNullOrEmpty(key);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        logging?.Invoke(builder.Logging);
        builder.WebHost.UseKestrel(o =>
        {
            o.Listen(listen);
            (limits ?? ApiLimits.Default).Apply(o.Limits);
            o.AddServerHeader = false;
        });
        var app = builder.Build();
        byte[] expected = Encoding.UTF8.GetBytes(key);
        app.Use(async (context, next) =>
        {
            if (context.GetEndpoint()?.Metadata.GetMetadata<KeyNotRequired>() is null && !KeyMatches(context.Request.Headers[KeyHeader], expected))
            {
                await Error(StatusCodes.Status401Unauthorized, "missing or wrong key: send the header \"Key: <key>\"").ExecuteAsync(context).ConfigureAwait(false);
                return;
            }
            try
            {
                await next(context).ConfigureAwait(false);
                if (context.Response.HasStarted) return;
                if (context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed)
                    await Error(StatusCodes.Status405MethodNotAllowed, $"method {context.Request.Method} is not allowed on {context.Request.Path}").ExecuteAsync(context).ConfigureAwait(false);
                else if (context.Response.StatusCode == StatusCodes.Status404NotFound && context.GetEndpoint() is null)
                    await Error(StatusCodes.Status404NotFound, "no such endpoint").ExecuteAsync(context).ConfigureAwait(false);
            }
            catch (ConfigException ex)
            {
                await Error(StatusCodes.Status400BadRequest, ex.Message).ExecuteAsync(context).ConfigureAwait(false);
            }
            catch (Nftlb.NftlbException ex)
            {
                await Error(ex.StatusCode, ex.Message).ExecuteAsync(context).ConfigureAwait(false);
            }
            catch (ApiException ex)
            {
                await Error(ex.StatusCode, ex.Message).ExecuteAsync(context).ConfigureAwait(false);
            }
            catch (BadHttpRequestException ex)
            {
                await Error(ex.StatusCode, ex.Message).ExecuteAsync(context).ConfigureAwait(false);
            }
        });
        app.MapFarmEndpoints(control);
        app.MapObjectEndpoints(control);
        app.MapViewEndpoints(control);
        app.MapDrainEndpoints(control, TimeProvider.System);
        return new ApiHost(app);
    }

    public Task StartAsync(CancellationToken cancellationToken = default) => _app.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken = default) => _app.StopAsync(cancellationToken);

    public ValueTask DisposeAsync() => _app.DisposeAsync();

    /// <summary>Parses <c>ADDR:PORT</c> (<c>[::1]:5555</c> for IPv6).</summary>
    public static IPEndPoint ParseListen(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int colon = text.LastIndexOf(':');
        bool shaped = colon > 0 && colon < text.Length - 1
            && (text.IndexOf(':', StringComparison.Ordinal) == colon || (text[0] == '[' && text[colon - 1] == ']'));
        if (!shaped || !IPEndPoint.TryParse(text, out var ep))
            throw new UsageException($"option --api: \"{text}\" is not ADDR:PORT (e.g. 127.0.0.1:5555, [::1]:5555) or off");
        return ep;
    }

    /// <summary>A random key (32 hex digits).</summary>
    public static string NewKey() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    private static bool KeyMatches(Microsoft.Extensions.Primitives.StringValues given, byte[] expected)
    {
        if (given.Count != 1 || given[0] is not { } s) return false;
        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(s), expected);
    }

    // ---- replies shared by the endpoint files --------------------------------------------------------

    /// <summary><c>{"response": "success"}</c>, with nftlb's warnings appended (<c>"success. …. …"</c>).</summary>
    public static IResult Success(IReadOnlyList<string>? warnings = null)
    {
        string text = "success";
        if (warnings is not null)
            foreach (var w in warnings) text += ". " + w;
        return JsonText(Response(text), StatusCodes.Status200OK);
    }

    /// <summary>nftlb's error reply, <c>{"response": "error …"}</c>, with <paramref name="status"/>.</summary>
    public static IResult Error(int status, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return JsonText(Response(message.StartsWith("error", StringComparison.Ordinal) ? message : "error: " + message), status);
    }

    private static string Response(string text)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            w.WriteStringValue(text);
        return "{\"response\": " + Encoding.UTF8.GetString(buffer.WrittenSpan) + "}";
    }

    /// <summary>
    /// A change with a JSON body (an nftlb document): read, applied to the objects all or nothing, replied as nftlb does.
    /// With <paramref name="bodyOptional"/> an empty body passes an undefined element.
    /// </summary>
    public static async Task<IResult> ChangeAsync(ControlPlane control, HttpRequest request, Action<Nftlb.NftlbState, JsonElement, Nftlb.NftlbEffects> change, bool bodyOptional = false)
    {
        ArgumentNullException.ThrowIfNull(control);
        ArgumentNullException.ThrowIfNull(change);
        string body = await ReadBodyAsync(request).ConfigureAwait(false);
        Nftlb.NftlbEffects effects;
        if (string.IsNullOrWhiteSpace(body))
        {
            if (!bodyOptional) throw Nftlb.NftlbRequest.Bad("the body must be a document like {\"farms\": [...]}, got nothing");
            effects = await control.ChangeAsync((s, e) => change(s, default, e)).ConfigureAwait(false);
        }
        else
        {
            using var doc = Nftlb.NftlbRequest.Read(body);
            var root = doc.RootElement;
            effects = await control.ChangeAsync((s, e) =>
            {
                change(s, root, e);
                s.ReleaseOwnedAddresses();
            }).ConfigureAwait(false);
        }
        return Success(effects.Warnings);
    }

    /// <summary>A JSON document as the reply body.</summary>
    public static IResult JsonText(string json, int status = StatusCodes.Status200OK) =>
        Results.Text(json, "application/json", Encoding.UTF8, status);

    /// <summary>Reads the request body as text (UTF-8).</summary>
    public static async Task<string> ReadBodyAsync(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
    }

    internal static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}

/// <summary>An API error with its HTTP status (404 unknown object, 400 bad input, ...).</summary>
internal sealed class ApiException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}
